# syntax=docker/dockerfile:1
# faas-kubelet's image: a static binary on distroless, running as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t faas-kubelet .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
COPY provider/ provider/
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X github.com/faas-kubelet/faas-kubelet/pkg/version.Version=${VERSION}" \
      -o /out/faas-kubelet ./cmd/faas-kubelet

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/faas-kubelet /usr/local/bin/faas-kubelet
USER 65532:65532
# 10250: kubelet API (logs, exec); 10255: /metrics, /healthz, /readyz.
EXPOSE 10250 10255
ENTRYPOINT ["/usr/local/bin/faas-kubelet"]
