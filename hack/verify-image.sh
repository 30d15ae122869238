#!/usr/bin/env bash
# Checks the image as far as a machine without a container engine can: the
# Dockerfile parses as BuildKit parses it, its final stage runs as non-root,
# and the binary built the Dockerfile's way is static (no dynamic loader).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${out}/faas-kubelet" ./cmd/faas-kubelet
(cd hack/image && GOFLAGS=-mod=mod go run . -dockerfile ../../Dockerfile -binary "${out}/faas-kubelet")
