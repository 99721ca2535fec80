"""Records the requests a real Kafka client sends: a TCP proxy between client and broker that cuts
the client's byte stream into size-prefixed requests and keeps the first of each (api_key,
api_version) pair.

    python record.py LISTEN_PORT BROKER_PORT OUT.txt

Start the broker with KAFKA_ADVERTISED_PORT=LISTEN_PORT (scripts/kafka.sh), so that the client
reconnects through the proxy after its first metadata request. Each line of OUT.txt:
`api_key api_version total_length hex`, the hex cut at MAX bytes (the parser sees 128 at most).
Stops on SIGINT/SIGTERM, writing what it saw.
"""

import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)

MAX = 512
seen = {}
lock = threading.Lock()
pending = {}  # per connection: what the client wrote past its last whole request


def record(connection, from_client, data):
    """Cuts the client's stream into requests and keeps the first of each (api_key, version)."""
    if not from_client:
        return
    buf = pending.get(connection, b"") + data
    while len(buf) >= 4:
        size = int.from_bytes(buf[:4], "big") + 4
        if len(buf) < size:
            break
        req, buf = buf[:size], buf[size:]
        key = (int.from_bytes(req[4:6], "big"), int.from_bytes(req[6:8], "big"))
        with lock:
            seen.setdefault(key, (len(req), req[:MAX]))
    pending[connection] = buf


def write(out):
    with lock, open(out, "w") as f:
        for (key, version), (total, head) in sorted(seen.items()):
            f.write(f"{key} {version} {total} {head.hex()}\n")


def main():
    listen, broker, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def stop(*_):
        write(out)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    proxy(broker, record=record, listen_port=listen)
    signal.pause()


if __name__ == "__main__":
    main()
