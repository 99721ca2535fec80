"""Records what kazoo (the real Python client) and the ZooKeeper Java CLI write to a real
ZooKeeper server, through a TCP proxy.

Run: java -Dzookeeper.admin.enableServer=false -cp '/usr/share/java/*' \
       org.apache.zookeeper.server.ZooKeeperServerMain 42181 /tmp/zk/data &
     /work/main/.venv/bin/python record.py 42181
     /work/main/.venv/bin/python record.py 42181 ping
Each client write the proxy received is saved as out/<n>.bin and the interesting ones renamed by
hand (see README).
"""

import os
import subprocess
import sys
import time

from kazoo.client import KazooClient

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)


def pings(port):
    """A client idle for a while: kazoo pings every third of its session timeout."""
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=2)
    zk.start()
    time.sleep(4)
    zk.stop()
    zk.close()


def main(port):
    zk = KazooClient(hosts=f"127.0.0.1:{port}", auth_data=[("digest", "app:hunter2")])
    zk.start()
    time.sleep(0.3)
    zk.create("/app/config", b"db=primary", makepath=True)
    time.sleep(0.2)
    zk.create("/app/locks/lock-", b"", ephemeral=True, sequence=True, makepath=True)
    time.sleep(0.2)
    zk.get("/app/config")
    time.sleep(0.2)
    zk.set("/app/config", b"db=replica")
    time.sleep(0.2)
    zk.exists("/app/missing")
    time.sleep(0.2)
    zk.get_children("/app", include_data=True)
    time.sleep(0.2)
    tx = zk.transaction()
    tx.check("/app/config", 1)
    tx.create("/app/tx", b"1")
    tx.commit()
    time.sleep(0.2)
    zk.sync("/app")
    time.sleep(0.2)
    zk.get("/app/" + "n" * 150)  if zk.exists("/app/" + "n" * 150) else zk.create("/app/" + "n" * 150, b"v")
    time.sleep(0.2)
    zk.delete("/app", recursive=True)
    time.sleep(0.2)
    zk.stop()
    zk.close()
    time.sleep(0.2)
    subprocess.run(
        ["java", "-cp", "/usr/share/java/*", "org.apache.zookeeper.ZooKeeperMain",
         "-server", f"127.0.0.1:{port}", "create", "/java", "from-java"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)


if __name__ == "__main__":
    (pings if sys.argv[2:] == ["ping"] else main)(proxy(int(sys.argv[1]), OUT))
