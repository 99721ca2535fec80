"""Makes the OP_COMPRESSED fixtures from a recorded OP_MSG with pymongo's own compressor code, and a
legacy OP_QUERY find with pymongo 3.13's message builder (SecantusDB takes neither form on the wire:
it advertises no compressors and a wire version past OP_QUERY finds).

python compress.py            (pymongo 4 with python-snappy and backports.zstd installed)
python compress.py legacy     (in a venv with pymongo==3.13.0)
"""
import sys

here = __file__.rsplit("/", 1)[0] or "."
if sys.argv[1:] == ["legacy"]:
    from bson.codec_options import DEFAULT_CODEC_OPTIONS
    from pymongo import message

    _, data, _ = message.query(
        0, "shop.orders", 0, 0, {"customer": "alice@example.com", "total": {"$gt": 10}}, None,
        DEFAULT_CODEC_OPTIONS,
    )
    open(f"{here}/op_query_find.bin", "wb").write(data)
    sys.exit()

from pymongo import compression_support, message

recorded = open(f"{here}/find.bin", "rb").read()
body = recorded[16:]  # what pymongo compresses: the OP_MSG without its header
for name, ctx in [
    ("zlib", compression_support.ZlibContext(-1)),
    ("snappy", compression_support.SnappyContext()),
    ("zstd", compression_support.ZstdContext()),
]:
    try:
        _, data = message._compress(2013, body, ctx)
    except ImportError as e:
        print(name, "skipped:", e)
        continue
    open(f"{here}/compressed_find_{name}.bin", "wb").write(data)
