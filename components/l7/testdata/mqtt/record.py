"""Records what paho-mqtt (the real client) writes to a real mosquitto, through a TCP proxy, for
MQTT 3.1.1 and MQTT 5.

Run: printf 'listener 41883 127.0.0.1\nallow_anonymous true\n' > /tmp/m.conf; mosquitto -c /tmp/m.conf &
     /work/main/.venv/bin/python record.py 41883 v311   (then v5)
Each client write the proxy received is saved as out/<n>.bin and the interesting ones renamed
by hand (see README).
"""

import os
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)


def main(port, version):
    v5 = version == "v5"
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"ferrotel-{version}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    c.username_pw_set("sensor", "hunter2")
    c.will_set("status/sensor", b"offline-secret", qos=1)
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    time.sleep(0.3)
    props = None
    if v5:
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = 7
    c.subscribe([("sensors/+/temp", 1), ("alerts/#", 0)], properties=props)
    time.sleep(0.3)
    c.publish("sensors/kitchen/temp", b"21.5", qos=0)
    time.sleep(0.3)
    pprops = None
    if v5:
        pprops = Properties(PacketTypes.PUBLISH)
        pprops.ContentType = "text/plain"
        pprops.UserProperty = ("trace", "abc")
    c.publish("sensors/hall/temp", b"19.0", qos=1, properties=pprops).wait_for_publish(2)
    time.sleep(0.3)
    c.publish("sensors/attic/temp", b"30.1", qos=2).wait_for_publish(2)
    time.sleep(0.3)
    c.unsubscribe("alerts/#")
    time.sleep(0.3)
    c.publish("big/" + "t" * 150, b"p" * 200, qos=1).wait_for_publish(2)
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()


if __name__ == "__main__":
    main(proxy(int(sys.argv[1]), OUT), sys.argv[2])
