import sys, pymongo


def client(url):
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=3000, heartbeatFrequencyMS=60000)


def attempt(db, *command, **kwargs):
    """Runs a command the server refuses, and says why."""
    try:
        db.command(*command, **kwargs)
    except Exception as e:
        print("expected:", type(e).__name__, str(e)[:100])


if __name__ == "__main__":
    port = int(sys.argv[1])
    c = client(f"mongodb://app:hunter2@127.0.0.1:{port}/shop?directConnection=true&authMechanism=SCRAM-SHA-256")
    attempt(c.shop, "ping")
    attempt(c.shop, "createUser", "reporter", pwd="s3cr3t-pw", roles=[])
