import sys, pymongo
port = int(sys.argv[1]); extra = sys.argv[2] if len(sys.argv) > 2 else ""
c = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true{extra}", serverSelectionTimeoutMS=5000, heartbeatFrequencyMS=60000)
db = c["shop"]
db.orders.insert_one({"customer": "alice@example.com", "total": 42.5, "items": ["book"]})
db.orders.insert_many([{"customer": "bob", "total": i} for i in range(3)])
list(db.orders.find({"customer": "alice@example.com", "total": {"$gt": 10}}))
db.orders.find_one({"_id": 1})
db.orders.update_one({"customer": "bob"}, {"$set": {"total": 7}})
db.orders.delete_many({"total": {"$lt": 1}})
list(db.orders.aggregate([{"$match": {"customer": "bob"}}, {"$group": {"_id": "$customer", "n": {"$sum": 1}}}]))
db.orders.count_documents({"customer": "bob"})
db.orders.create_index("customer")
db.list_collection_names()
db.command("ping")
db.orders.drop()
