"""Records what pika (the real client) writes to a real rabbitmq-server, through a TCP proxy.

Run rabbitmq-server as the integration test does (integration-tests/tests/l7_messaging.rs:
RABBITMQ_NODE_PORT, RABBITMQ_MNESIA_BASE, ... and /usr/lib/rabbitmq/bin/rabbitmq-server), then
     /work/main/.venv/bin/python record.py 35672
Each client write the proxy received is saved as out/<n>.bin and the interesting ones renamed by
hand (see README).
"""

import os
import sys
import time

import pika

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)


def main(port):
    conn = pika.BlockingConnection(
        pika.ConnectionParameters(
            "127.0.0.1", port, credentials=pika.PlainCredentials("guest", "guest")
        )
    )
    ch = conn.channel()
    time.sleep(0.2)
    ch.exchange_declare("direct_logs", exchange_type="direct")
    time.sleep(0.2)
    ch.queue_declare("orders", durable=False)
    time.sleep(0.2)
    ch.queue_bind("orders", "direct_logs", routing_key="warning")
    time.sleep(0.2)
    ch.basic_publish("direct_logs", "warning", b"disk almost full")
    time.sleep(0.2)
    ch.basic_publish("", "orders", b'{"id": 42}', pika.BasicProperties(content_type="application/json"))
    time.sleep(0.2)
    method, _, _ = ch.basic_get("orders")
    time.sleep(0.2)
    ch.basic_ack(method.delivery_tag)
    time.sleep(0.2)
    ch.basic_consume("orders", lambda *a: None, auto_ack=True)
    time.sleep(0.2)
    ch.basic_publish("amq.topic", "k" * 200, b"x" * 100)
    time.sleep(0.2)
    conn.close()


if __name__ == "__main__":
    main(proxy(int(sys.argv[1]), OUT))
