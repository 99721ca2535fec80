"""A recording TCP proxy for the parsers' fixtures: forwards 127.0.0.1:<its port> to an upstream
port and saves each chunk the client wrote (what one write() held, as the kernel sees it) as
<out>/<n>.bin, numbered in arrival order across connections.

The recorders of the protocol directories import it from here; one that keeps something other
than every client chunk passes `record`."""

import os
import socket
import threading


def proxy(upstream_port, out=None, record=None, listen_port=0, listen_host="127.0.0.1",
          upstream_host="127.0.0.1"):
    """Starts the proxy in background threads; returns the port clients should connect to.

    `record(connection, from_client, data)`, when given, is called (one call at a time) with every
    chunk read from either side instead of saving the client's to `out`; `connection` numbers the
    connections from 1."""
    if record is None:
        os.makedirs(out, exist_ok=True)
        counter = [0]

        def record(_connection, from_client, data):
            if from_client:
                counter[0] += 1
                with open(os.path.join(out, f"{counter[0]:03}.bin"), "wb") as f:
                    f.write(data)

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((listen_host, listen_port))
    listener.listen(16)
    lock = threading.Lock()

    def pump(src, dst, connection, from_client):
        try:
            while data := src.recv(1 << 20):
                with lock:
                    record(connection, from_client, data)
                dst.sendall(data)
            # pass the end on: the other side may still answer
            dst.shutdown(socket.SHUT_WR)
        except OSError:  # the other direction gave up on these sockets
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        connection = 0
        while True:
            client, _ = listener.accept()
            server = socket.create_connection((upstream_host, upstream_port))
            connection += 1
            for args in ((client, server, connection, True), (server, client, connection, False)):
                threading.Thread(target=pump, args=args, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]
