#!/usr/bin/env bash
# Fails when any Go file is not gofmt-formatted; update with `gofmt -w`.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))
if [[ -n "${bad}" ]]; then
  echo "gofmt needed on:" >&2
  echo "${bad}" >&2
  exit 1
fi
