"""Records a TCP exchange for test fixtures.

Usage: record_proxy.py LISTEN_PORT TARGET_PORT OUT.jsonl [LISTEN_HOST]
Relays LISTEN_HOST:LISTEN_PORT (default 127.0.0.1) to 127.0.0.1:TARGET_PORT and appends every chunk
read from either side to OUT.jsonl as {"conn", "dir": "c2s"|"s2c", "hex"}.
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)

listen, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def record(connection, from_client, data):
    line = {"conn": connection, "dir": "c2s" if from_client else "s2c", "hex": data.hex()}
    with open(out, "a") as f:
        f.write(json.dumps(line) + "\n")


proxy(target, record=record, listen_port=listen,
      listen_host=sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1")
print("proxy ready", flush=True)
threading.Event().wait()
