"""Several requests, one after the other, on one h2c connection, with the `h2` library (its HPACK
encoder Huffman-codes and indexes as it likes). Usage: h2_client.py PORT"""
import socket
import sys

import h2.config
import h2.connection
import h2.events

PATHS = ["/api/users/12345/orders?token=abc", "/api/users/67890/orders", "/health"]

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
for path in PATHS:
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "GET"), (":path", path), (":scheme", "http"),
                               (":authority", "127.0.0.1:%s" % sys.argv[1]),
                               ("user-agent", "python-h2/4.4.1"),
                               ("authorization", "Bearer s3cr3t")], end_stream=True)
    sock.sendall(conn.data_to_send())
    done = False
    while not done:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                done = True
        sock.sendall(conn.data_to_send())
print("done")
