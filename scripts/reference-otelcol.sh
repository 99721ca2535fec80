#!/usr/bin/env bash
# Builds the reference otelcol (DESIGN.md §6, REFERENCE-OTELCOL.md) with the OpenTelemetry Collector
# Builder (OCB), once per machine, into a cache folder outside the repo:
#   ${FERROTEL_CACHE:-/var/cache/ferrotel}/otelcol-ref-v0.160.0/   (or $OTELCOL_REF_DIR)
#     bin/builder          OCB, installed with `go install`
#     gomodcache/ gocache/ Go's module and build caches for this build only
#     manifest.yaml        the OCB manifest
#     dist/                OCB's generated sources and the binary, dist/otelcol-ref
# Every collector module is at one release (v0.160.0, with the stable v1.66.0 modules OCB picks for
# its default confmap providers). If the binary is there and its `components` subcommand works, the
# script only prints its path. The binary's path is always the last line on stdout; progress goes
# to stderr. Go's own settings (GOPROXY, ...) come from the environment.
set -euo pipefail

OTELCOL_VERSION=v0.160.0
CACHE_DIR="${OTELCOL_REF_DIR:-${FERROTEL_CACHE:-/var/cache/ferrotel}/otelcol-ref-${OTELCOL_VERSION}}"
DIST="$CACHE_DIR/dist"
BIN="$DIST/otelcol-ref"

if [[ -x "$BIN" ]] && "$BIN" components >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null || {
    echo "reference-otelcol: go is not installed" >&2
    exit 1
}
mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/gomodcache" "$CACHE_DIR/gocache"
export GOBIN="$CACHE_DIR/bin"
export GOMODCACHE="$CACHE_DIR/gomodcache"
export GOCACHE="$CACHE_DIR/gocache"
export GOFLAGS="-mod=mod ${GOFLAGS:-}"
export CGO_ENABLED=0
started=$(date +%s)

if [[ ! -x "$GOBIN/builder" ]] || ! "$GOBIN/builder" version 2>/dev/null | grep -q "${OTELCOL_VERSION#v}"; then
    echo "reference-otelcol: installing OCB ${OTELCOL_VERSION} into $GOBIN" >&2
    go install "go.opentelemetry.io/collector/cmd/builder@${OTELCOL_VERSION}"
fi

core=go.opentelemetry.io/collector
contrib=github.com/open-telemetry/opentelemetry-collector-contrib
cat >"$CACHE_DIR/manifest.yaml" <<EOF
dist:
  name: otelcol-ref
  description: ferrotel's reference otelcol (scripts/reference-otelcol.sh)
  version: ${OTELCOL_VERSION#v}
  output_path: $DIST
receivers:
  - gomod: $core/receiver/otlpreceiver ${OTELCOL_VERSION}
processors:
  - gomod: $core/processor/batchprocessor ${OTELCOL_VERSION}
  - gomod: $core/processor/memorylimiterprocessor ${OTELCOL_VERSION}
exporters:
  - gomod: $core/exporter/otlpexporter ${OTELCOL_VERSION}
  - gomod: $core/exporter/otlphttpexporter ${OTELCOL_VERSION}
  - gomod: $core/exporter/debugexporter ${OTELCOL_VERSION}
extensions:
  - gomod: $contrib/extension/healthcheckextension ${OTELCOL_VERSION}
EOF

echo "reference-otelcol: building $BIN with OCB (minutes on a fresh machine)" >&2
"$GOBIN/builder" --config "$CACHE_DIR/manifest.yaml" >&2
"$BIN" components >/dev/null
echo "reference-otelcol: built in $(($(date +%s) - started)) s" >&2
echo "$BIN"
