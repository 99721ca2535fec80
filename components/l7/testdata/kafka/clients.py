"""Produces one record to a topic and fetches it back with a real Python Kafka client, for
record.py to capture. `python clients.py kafka-python|confluent PORT TOPIC [API_VERSION]`:
API_VERSION (kafka-python only, e.g. 2.1) pins the broker version the client speaks to, which picks
older request versions.
"""

import sys


def kafka_python(port, topic, api):
    from kafka import KafkaConsumer, KafkaProducer

    kw = {"bootstrap_servers": f"127.0.0.1:{port}", "client_id": "kp-recorder"}
    if api:
        kw["api_version"] = tuple(int(x) for x in api.split("."))
    producer = KafkaProducer(**kw)
    producer.send(topic, key=b"k1", value=b"hello kafka").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic, group_id="kp-group", auto_offset_reset="earliest", consumer_timeout_ms=15000, **kw
    )
    for record in consumer:
        print(record.value)
        break
    consumer.close()


def confluent(port, topic):
    from confluent_kafka import Consumer, Producer

    producer = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "client.id": "rdkafka-recorder"})
    producer.produce(topic, key=b"k1", value=b"hello kafka")
    producer.flush(30)
    consumer = Consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{port}",
            "client.id": "rdkafka-recorder",
            "group.id": "rd-group",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    for _ in range(30):
        msg = consumer.poll(1.0)
        if msg is not None and not msg.error():
            print(msg.value())
            break
    consumer.close()


if __name__ == "__main__":
    which, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if which == "kafka-python":
        kafka_python(port, topic, sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        confluent(port, topic)
