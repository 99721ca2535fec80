"""A grpcio server and client on loopback: the client makes several unary calls on one channel,
then one to a method the server does not have (it answers UNIMPLEMENTED).

Usage: grpc_pair.py server PORT  |  grpc_pair.py client PORT N
"""
import sys
import time
from concurrent import futures

import grpc


def serve(port):
    def say_hello(request, context):
        return b"hello " + request

    handler = grpc.method_handlers_generic_handler(
        "helloworld.Greeter",
        {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def client(port, n):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/helloworld.Greeter/SayHello")
        for i in range(n):
            print(call(b"world %d" % i, timeout=5), flush=True)
            time.sleep(0.05)
        missing = channel.unary_unary("/helloworld.Greeter/Missing")
        try:
            missing(b"?", timeout=5)
        except grpc.RpcError as e:
            print(e.code(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    else:
        client(int(sys.argv[2]), int(sys.argv[3]))
