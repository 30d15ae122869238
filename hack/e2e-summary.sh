#!/usr/bin/env bash
# Passes `go test -v` output through and ends with a plain
# "N passed, N failed" line counted from the top-level test results. It fails
# when any test or package failed, or when no package reported ok.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "${log}"' EXIT
tee "${log}"
passed=$(grep -cE '^--- PASS: ' "${log}")
failed=$(grep -cE '^--- FAIL: ' "${log}")
echo "e2e: ${passed} passed, ${failed} failed"
if grep -qE '^(FAIL|panic:)' "${log}" || [[ "${failed}" -gt 0 ]] || ! grep -qE '^ok ' "${log}"; then
  exit 1
fi
