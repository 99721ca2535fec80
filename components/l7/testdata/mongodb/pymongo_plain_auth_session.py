import sys

from pymongo_auth_session import attempt, client

port = int(sys.argv[1])
c = client(f"mongodb://app:hunter2@127.0.0.1:{port}/shop?directConnection=true&authMechanism=PLAIN")
attempt(c.shop, "ping")
c = client(f"mongodb://127.0.0.1:{port}/?directConnection=true")
attempt(c.shop, "createUser", "reporter", pwd="s3cr3t-pw", roles=[])
