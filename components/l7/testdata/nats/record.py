"""Records what nats-py (the real client) writes to a real nats-server, through a TCP proxy.

Run: nats-server -a 127.0.0.1 -p 42222 --user app --pass hunter2 &
     /work/main/.venv/bin/python record.py 42222
Each client write the proxy received is saved as <n>.bin in this directory's out/ and the
interesting ones renamed by hand (see README).
"""

import asyncio
import os
import sys

import nats
from nats.aio.msg import Msg

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)


async def main(port):
    nc = await nats.connect(f"nats://app:hunter2@127.0.0.1:{port}", no_echo=False)
    await asyncio.sleep(0.2)

    async def handler(msg: Msg):
        await msg.respond(b"pong")

    await nc.subscribe("orders.created", queue="workers")
    await asyncio.sleep(0.2)
    svc = await nc.subscribe("svc.echo", cb=handler)
    await asyncio.sleep(0.2)
    await nc.publish("orders.created", b'{"id": 42, "card": "4111"}')
    await asyncio.sleep(0.2)
    await nc.publish("orders.with_headers", b"payload", headers={"trace": "abc"})
    await asyncio.sleep(0.2)
    await nc.request("svc.echo", b"ping", timeout=2)
    await asyncio.sleep(0.2)
    await svc.unsubscribe()
    await asyncio.sleep(0.2)
    await nc.publish("big." + "x" * 200, b"y" * 300)
    await asyncio.sleep(0.2)
    await nc.flush()
    await asyncio.sleep(0.2)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(proxy(int(sys.argv[1]), OUT)))
