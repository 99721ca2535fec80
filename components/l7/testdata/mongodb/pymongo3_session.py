"""pymongo 3.13 against the recording proxy: python pymongo3_session.py PORT"""
import sys

import pymongo

port = int(sys.argv[1])
c = pymongo.MongoClient(
    f"mongodb://127.0.0.1:{port}/?directConnection=true",
    serverSelectionTimeoutMS=5000,
    heartbeatFrequencyMS=60000,
)
db = c["shop"]
list(db.orders.find({"customer": "alice@example.com"}))
db.command("ping")
