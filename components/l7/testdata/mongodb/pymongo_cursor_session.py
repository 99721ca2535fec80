import sys, pymongo
port = int(sys.argv[1])
c = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=5000, heartbeatFrequencyMS=60000)
db = c["shop"]
db.orders.insert_many([{"n": i} for i in range(5)])
cur = db.orders.find({}, batch_size=2)
next(cur); next(cur); next(cur)
cur.close()
db.orders.find_one_and_update({"n": 1}, {"$set": {"n": 10}})
db.orders.distinct("n", {"n": {"$gt": 2}})
