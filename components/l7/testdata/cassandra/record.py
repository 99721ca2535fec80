"""Records what the real Python driver (cassandra-driver) writes to a real Cassandra server.

    python record.py HOST:PORT    # a running server, e.g. the one scripts/cassandra.sh starts

A proxy on loopback passes each connection through to the server and saves every chunk the
driver writes during a step to <protocol version>-<step>.bin (the chunks of one step appended).
AUTH_RESPONSE needs a server with a password authenticator, and the Python driver sends neither a
custom payload nor a per-request keyspace on its own: those the driver's own encoder writes."""

import os
import sys
import threading

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.protocol import (AuthResponseMessage, PrepareMessage, ProtocolHandler,
                                QueryMessage)
from cassandra.query import BatchStatement, SimpleStatement

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)

HERE = os.path.dirname(os.path.abspath(__file__))
label = None
chunks = {}
lock = threading.Lock()


def record(_connection, from_client, data):
    """Appends what the driver wrote to the chunks of the current step."""
    if from_client:
        with lock:
            if label is not None:
                chunks.setdefault(label, []).append(data)


def step(name):
    global label
    with lock:
        label = name


def connect(version, port, compression):
    cluster = Cluster(
        ["127.0.0.1"], port=port, protocol_version=version, idle_heartbeat_interval=0,
        compression=compression,
        load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"]),
    )
    return cluster, cluster.connect()


def run(version, port):
    step(f"v{version}-connect")
    cluster, session = connect(version, port, False)
    session.execute(
        "CREATE KEYSPACE IF NOT EXISTS shop WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.execute("CREATE TABLE IF NOT EXISTS shop.users (id int PRIMARY KEY, name text, "
                    "uid uuid, ttl duration)")
    step(f"v{version}-query")
    session.execute(SimpleStatement(
        "SELECT name FROM shop.users WHERE id = 42 AND name = 'O''Brien' ALLOW FILTERING",
        consistency_level=ConsistencyLevel.LOCAL_QUORUM))
    step(f"v{version}-long")
    session.execute(
        "INSERT INTO shop.users (id, name, uid, ttl) VALUES (7, 'a secret name that is long', "
        "123e4567-e89b-12d3-a456-426614174000, 1h30m) USING TTL 86400")
    step(f"v{version}-prepare")
    insert = session.prepare("INSERT INTO shop.users (id, name) VALUES (?, ?)")
    step(f"v{version}-execute")
    session.execute(insert, (1, "hunter2"))
    step(f"v{version}-batch")
    batch = BatchStatement(consistency_level=ConsistencyLevel.QUORUM)
    batch.add(SimpleStatement("INSERT INTO shop.users (id, name) VALUES (2, 'x')"))
    batch.add(SimpleStatement("UPDATE shop.users SET name = 'y' WHERE id = 3"))
    session.execute(batch)
    step(None)
    cluster.shutdown()
    # with lz4 installed the driver compresses frames (v4) or segments (v5)
    cluster, session = connect(version, port, "lz4")
    step(f"v{version}-lz4")
    session.execute("SELECT name FROM shop.users WHERE id = 1 AND name = 'compressed' "
                    "ALLOW FILTERING")
    step(None)
    cluster.shutdown()


def encoded(name, message, version):
    chunks[name] = [ProtocolHandler.encode_message(message, 3, version, None, False)]


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    through = proxy(int(port), record=record, upstream_host=host)
    for version in (4, 5):
        run(version, through)
        token = AuthResponseMessage(b"\x00cassandra\x00s3cret-password")
        encoded(f"v{version}-auth_response", token, version)
    query = QueryMessage("SELECT * FROM users WHERE id = 1", ConsistencyLevel.ONE,
                         keyspace="shop")
    encoded("v5-query_keyspace", query, 5)
    encoded("v5-prepare_keyspace", PrepareMessage("DELETE FROM users WHERE id = ?", "shop"), 5)
    query = QueryMessage("SELECT v FROM kv WHERE k = 'a'", ConsistencyLevel.ONE)
    query.custom_payload = {"tenant": b"blue"}
    encoded("v4-custom_payload", query, 4)
    for name, data in chunks.items():
        with open(os.path.join(HERE, f"{name}.bin"), "wb") as f:
            f.write(b"".join(data))
        print(name, sum(map(len, data)), "bytes in", len(data), "chunks")


main()
