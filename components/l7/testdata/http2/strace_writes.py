"""Prints, as hex one per line, what each sendmsg/writev/write/sendto of fd FD held in an
`strace -xx -s 65536` log: the bytes one write() hands the kernel, as the eBPF probe sees them.

Usage: strace_writes.py LOG FD
"""
import re
import sys

CALL = re.compile(r"^\d+\s+(sendmsg|writev|write|sendto)\((\d+),(.*)\)\s+=\s+(\d+)$")
CHUNK = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')

for line in open(sys.argv[1]):
    m = CALL.match(line.strip())
    if not m or m.group(2) != sys.argv[2]:
        continue
    data = b"".join(bytes.fromhex(c.replace("\\x", "")) for c in CHUNK.findall(m.group(3)))
    print(data[: int(m.group(4))].hex())
