"""Records what mosquitto_pub / mosquitto_sub (the Debian C clients) write to a real mosquitto
through the same proxy as record.py: a MQTT 5 publish, and a subscriber's PINGREQ (keepalive 5 s).

Run: /work/main/.venv/bin/python record_cli.py 41883
"""

import subprocess
import sys
import time

from record import OUT, proxy

port = proxy(int(sys.argv[1]), OUT)
subprocess.run(
    ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
     "-u", "cli", "-P", "hunter2", "-t", "cli/topic", "-m", "hello",
     "-D", "publish", "message-expiry-interval", "60"],
    check=True,
)
time.sleep(0.3)
sub = subprocess.Popen(
    ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-k", "5", "-t", "cli/#"]
)
time.sleep(7.5)
sub.terminate()
sub.wait()
time.sleep(0.3)
