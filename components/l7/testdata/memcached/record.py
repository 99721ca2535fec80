"""Records what a client writes to a server: a TCP proxy that saves each chunk the client sends.

python3 record.py LISTEN_PORT SERVER_PORT OUT_DIR
Every recv() from the client is saved as OUT_DIR/NNN.bin (chunks of one connection stay in order;
a loopback client's single write arrives as one chunk).
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from proxy import proxy  # noqa: E402  (testdata/proxy.py)

listen_port, server_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
proxy(server_port, out, listen_port=listen_port)
threading.Event().wait()
