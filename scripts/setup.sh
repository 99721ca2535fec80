#!/usr/bin/env bash
# Installs what the tests and the benchmark need beyond the Rust toolchain: a Python venv at
# <repo>/.venv with the packages pinned in integration-tests/python/requirements.txt.
# Idempotent: does nothing when the venv already matches the requirements file.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=integration-tests/python/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian's python3 splits venv/ensurepip into python3-venv.
    echo "setup: installing python3-venv" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    python3 -m venv "$venv"
fi
echo "setup: installing $requirements into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" - <<'PY'
import importlib.util, os, sys
spec = importlib.util.find_spec("rotel")
agent = os.path.join(os.path.dirname(spec.origin), "rotel-agent")
if not os.access(agent, os.X_OK):
    sys.exit(f"setup: rotel installed but {agent} is missing or not executable")
PY
echo "$want" > "$stamp"
