# ferrotel — developer entry points. Every target works on a fresh Debian 12 machine with the Rust
# toolchain, python3 and pip: what else it needs (the Python venv with the OpenTelemetry SDK and
# rotel) is installed by scripts/setup.sh on first use.

CARGO ?= cargo
# Extra arguments for `make run`, e.g. make run ARGS="--config config/gateway.yaml"
ARGS ?=
# Extra arguments for `make bench`, e.g. make bench BENCH_ARGS="--duration 10 --warmup 3"
BENCH_ARGS ?=
# Seconds each fuzz target runs: short in `make test`, as long as you like with `make fuzz`.
TEST_FUZZ_SECONDS ?= 20
FUZZ_SECONDS ?= 600

.PHONY: all build build-deps run run-release setup test fmt fmt-check clippy bench bench-ebpf bench-l7 fuzz reliability servers-start servers-stop

# Real servers the tests talk to on loopback (scripts/servers.sh): the ebpf receiver's tests watch
# psql, redis-cli, DNS queries and curl (h2c on nginx) reach them; the database receivers scrape them.
TEST_SERVERS ?= postgres mariadb redis nginx dnsmasq

all: build

# clang and libbpf's headers compile the ebpf receiver's kernel programs in every build.
build-deps:
	./scripts/setup.sh build

build: build-deps
	$(CARGO) build --workspace --bins

# A debug build: after a change it rebuilds in seconds where the release profile (thin LTO) takes
# minutes on two cores, and the default config (OTLP in -> batch -> debug) needs no speed.
# `make run-release` runs the optimised binary, as `make bench` measures it.
run: build-deps
	$(CARGO) build -p ferrotel
	./target/debug/ferrotel $(ARGS)

run-release: build-deps
	$(CARGO) build --release -p ferrotel
	./target/release/ferrotel $(ARGS)

setup:
	./scripts/setup.sh

# What CI runs (.ci/run): formatting, lints, a build of every binary (the process tests start
# target/debug/ferrotel), the real servers started, every test in the workspace (the reliability
# suite in its short form and the ebpf receiver against the real kernel among them), the servers
# stopped (also when a test failed), then every fuzz target for a bounded time from its corpus.
test: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace --bins
	./scripts/servers.sh start $(TEST_SERVERS)
	$(CARGO) test --workspace; status=$$?; ./scripts/servers.sh stop $(TEST_SERVERS); exit $$status
	FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) ./scripts/fuzz.sh

# Coverage-guided fuzzing (libFuzzer on stable rustc), FUZZ_SECONDS per target.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

# The reliability suite at full length (60 s outage etc.) with release builds; prints the table.
reliability:
	$(CARGO) build --release -p ferrotel -p ferrotel-integration-tests --bin ferrotel --bin ferrotel-reliability
	./target/release/ferrotel-reliability --full --ferrotel target/release/ferrotel

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

servers-start:
	./scripts/servers.sh start $(TEST_SERVERS)

servers-stop:
	./scripts/servers.sh stop $(TEST_SERVERS)

# The ebpf receiver's overhead: nginx under wrk without and with the receiver attached (release).
bench-ebpf: build-deps
	./scripts/bench-ebpf.sh $(BENCH_ARGS)

# Relay benchmark, ferrotel against rotel and the reference otelcol-contrib (built once per machine by
# scripts/reference-otelcol.sh), at 4 and 512 requests in flight: release builds, tables in target/bench/relay.txt.
bench: setup bench-l7
	./scripts/bench.sh $(BENCH_ARGS)

# L7 parse throughput: exchanges per CPU-second per protocol, over the requests recorded from real
# clients in components/l7/testdata (release build).
bench-l7:
	mkdir -p target/bench
	cargo bench -p ferrotel-l7 --bench parse | tee target/bench/l7-parse.txt
