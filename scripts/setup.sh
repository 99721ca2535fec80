#!/usr/bin/env bash
# Installs what building, the tests and the benchmark need beyond the Rust toolchain:
# - for every build: clang and libbpf's headers, which compile the eBPF receiver's kernel programs;
# - for the tests (not with `build`): nginx, curl and openssl for the ebpf receiver's TLS test, the L7
#   protocol tests' servers (memcached, nats-server, mosquitto, zookeeper, rabbitmq-server), and
#   a Python venv at <repo>/.venv with the packages pinned in integration-tests/python/requirements.txt.
# Idempotent: does nothing when all of it is already there.
#
#   scripts/setup.sh          # everything
#   scripts/setup.sh build    # what `cargo build` needs (make build / make run)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    echo "setup: installing $* (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

build_packages=()
if ! command -v clang-19 >/dev/null 2>&1 && [[ -z "${CLANG:-}" ]]; then
    build_packages+=(clang-19)
fi
if [[ ! -f /usr/include/bpf/bpf_helpers.h ]]; then
    build_packages+=(libbpf-dev)
fi
if [[ ${#build_packages[@]} -gt 0 ]]; then
    apt_install "${build_packages[@]}"
fi
if [[ "${1:-}" == build ]]; then
    exit 0
fi

# The ebpf receiver's TLS test runs its own nginx (HTTPS, OpenSSL) with curl as the client.
test_packages=()
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null 2>&1 || test_packages+=(nginx)
command -v curl >/dev/null 2>&1 || test_packages+=(curl)
command -v openssl >/dev/null 2>&1 || test_packages+=(openssl)
# The L7 protocol tests' real servers; each test starts its own on loopback (integration-tests/tests/l7_*.rs).
[[ -x /usr/bin/memcached ]] || test_packages+=(memcached)
[[ -x /usr/sbin/nats-server ]] || test_packages+=(nats-server)
[[ -x /usr/sbin/mosquitto ]] || test_packages+=(mosquitto mosquitto-clients)
[[ -d /usr/share/zookeeper ]] || test_packages+=(zookeeper)
[[ -x /usr/sbin/rabbitmq-server ]] || test_packages+=(rabbitmq-server)
# Kafka and Cassandra come from Maven Central (scripts/kafka.sh, scripts/cassandra.sh) and run on Java 17.
command -v java >/dev/null 2>&1 || test_packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || test_packages+=(maven)
if [[ ${#test_packages[@]} -gt 0 ]]; then
    # Debian's maintainer scripts would start these as system services; the tests run their own.
    no_services=/usr/sbin/policy-rc.d
    if [[ ! -e $no_services ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$no_services" && chmod +x "$no_services"
        trap 'rm -f "$no_services"' EXIT
    fi
    apt_install "${test_packages[@]}"
fi

venv=.venv
requirements=integration-tests/python/requirements.txt
nodeps=integration-tests/python/requirements-nodeps.txt
stamp="$venv/.requirements.sha256"
want=$(cat "$requirements" "$nodeps" | sha256sum | cut -d' ' -f1)

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian's python3 splits venv/ensurepip into python3-venv.
    apt_install python3-venv
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    python3 -m venv "$venv"
fi
echo "setup: installing $requirements into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$nodeps"
"$venv/bin/python" - <<'PY'
import importlib.util, os, sys
spec = importlib.util.find_spec("rotel")
agent = os.path.join(os.path.dirname(spec.origin), "rotel-agent")
if not os.access(agent, os.X_OK):
    sys.exit(f"setup: rotel installed but {agent} is missing or not executable")
PY
echo "$want" > "$stamp"
