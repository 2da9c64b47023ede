# syntax=docker/dockerfile:1
# redrive's image: one static binary on distroless, running as non-root.
#   docker build -t redrive .          (or: make docker IMAGE=...)
# The binary needs no shell, no libc and no writable filesystem; the
# distroless static base adds only CA certificates (for TLS to Kafka, S3 and
# the enrichment API), tzdata and /etc/passwd with the nonroot user.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
# Stamped into the binary (redrive version, redrive_build_info); make docker
# passes them from git: docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/redrive ./cmd/redrive

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="redrive" \
      org.opencontainers.image.description="Kafka to S3 with HTTP enrichment and a circular dead-letter topic" \
      org.opencontainers.image.source="https://github.com/redrive-io/redrive"
COPY --from=build /out/redrive /redrive
# nonroot (65532), given by number so that Kubernetes' runAsNonRoot can
# verify it without a runAsUser.
USER 65532:65532
# /metrics, /healthz, /readyz (--http-addr)
EXPOSE 9090
ENTRYPOINT ["/redrive"]
CMD ["run"]
