"""Header blocks from python hpack's encoder (hpack 4.2.0, the encoder of the h2 library) for
random requests on a few connections, some with a smaller or larger table: one line per block,
`connection hex-block name=value|…`. Usage: hpack_blocks.py > hpack_blocks.txt"""
import random

import hpack

random.seed(11)
REGULAR = ["content-type", "user-agent", "x-a", "x-bb", "accept", "cookie"]
CHARS = "abcxyz0123-/ ;="
for conn in range(12):
    encoder = hpack.Encoder()
    if conn % 3 == 0:
        encoder.header_table_size = random.choice([0, 64, 256, 1000, 8192])
    for _ in range(25):
        fields = [
            (":method", random.choice(["GET", "POST", "PUT"])),
            (":path", "/p/%d" % random.randrange(50)),
            (":scheme", "http"),
            (":authority", "h%d:80" % random.randrange(5)),
        ]
        for _ in range(random.randrange(6)):
            value = "".join(random.choice(CHARS) for _ in range(random.randrange(0, 40)))
            fields.append((random.choice(REGULAR), value))
        block = encoder.encode(fields, huffman=random.random() < 0.5)
        print(conn, block.hex(), "|".join("%s=%s" % f for f in fields))
