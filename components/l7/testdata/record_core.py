"""Records what real clients write for the HTTP/1, PostgreSQL, MySQL and Redis fixtures, against
the servers of scripts/servers.sh (nginx, PostgreSQL, MariaDB, Redis), through proxy.py:

    scripts/servers.sh start postgres mariadb redis nginx
    .venv/bin/python components/l7/testdata/record_core.py

Each client write lands in <protocol>/out/<n>.bin; the requests kept were renamed by hand
(see README.md)."""

import os
import subprocess

from proxy import proxy

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*argv, env=None):
    subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **(env or {})})


port = proxy(18080, os.path.join(HERE, "http", "out"))
run("curl", "-s", f"http://127.0.0.1:{port}/api/v1/orders/12345/items?page=2&token=secret")
run("curl", "-s", "-X", "POST", "-H", "Authorization: Bearer secret", "-d", '{"a":1}',
    f"http://127.0.0.1:{port}/users/7f3c9a0e-4b1d-4c2a-9e8f-0123456789ab/avatar")

port = proxy(15432, os.path.join(HERE, "postgresql", "out"))
pg = {"PGPASSWORD": "otelpass", "PGSSLMODE": "disable"}
run("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
    "SELECT oid, relname FROM pg_catalog.pg_class WHERE relname = 'pg_type' AND relkind = 'r'", env=pg)
import psycopg  # noqa: E402  (after the psql run: its bytes come first)
with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres password=otelpass "
                     "dbname=postgres sslmode=disable") as c:
    for i in range(2):
        c.execute("SELECT relname FROM pg_class WHERE oid = %s", (i,), prepare=True)

port = proxy(13306, os.path.join(HERE, "mysql", "out"))
run("mysql", "-h", "127.0.0.1", "-P", str(port), "-uroot", "-potelpass", "--skip-ssl", "-e",
    "SELECT user, host FROM mysql.user WHERE user = 'root' LIMIT 1")
import mysql.connector  # noqa: E402
c = mysql.connector.connect(host="127.0.0.1", port=port, user="root", password="otelpass")
cur = c.cursor(prepared=True)
for i in range(2):
    cur.execute("UPDATE mysql.db SET Select_priv = 'Y' WHERE Db = ? AND 1 = 0", (f"db{i}",))
c.close()

port = proxy(16379, os.path.join(HERE, "redis", "out"))
run("redis-cli", "-p", str(port), "SET", "session:42:token", "secret-value", "EX", "60")
run("redis-cli", "-p", str(port), "HGETALL", "user:1001")
