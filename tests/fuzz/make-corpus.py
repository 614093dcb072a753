#!/usr/bin/env python3
"""make-corpus: writes the small seed corpora of the vhost fuzz targets
(tests/fuzz/corpus/<target>/) from the layouts the targets document."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_desc_chain: header, then a 64 KiB image (region A = first 32 KiB) ----
NEXT, WRITE, INDIRECT = 1, 2, 4


def ring_image(num, descs, heads, tables=(), used_event=0):
    img = bytearray(64 * 1024)
    for i, (addr, length, flags, nxt) in enumerate(descs):
        struct.pack_into("<QIHH", img, 16 * i, addr, length, flags, nxt)
    avail = 16 * num
    struct.pack_into("<HH", img, avail, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", img, avail + 4 + 2 * i, h)
    struct.pack_into("<H", img, avail + 4 + 2 * num, used_event)
    for off, entries in tables:
        for i, (addr, length, flags, nxt) in enumerate(entries):
            struct.pack_into("<QIHH", img, off + 16 * i, addr, length, flags, nxt)
    return bytes(img).rstrip(b"\0") or b"\0"


def desc_seed(log2, features, descs, heads, tables=()):
    return struct.pack("<BBH", log2, features, 0) + ring_image(1 << log2, descs, heads, tables)


def desc_chain_seeds():
    yield "direct", desc_seed(4, 3, [(0x1000, 32, NEXT, 1), (0x2000, 64, WRITE, 0)], [0])
    yield "indirect", desc_seed(4, 3, [(0x600, 48, INDIRECT, 0)], [0], tables=[
        (0x600, [(0x1000, 16, NEXT, 1), (0x1100, 16, NEXT, 2), (0x2000, 64, WRITE, 0)])])
    yield "loop", desc_seed(3, 3, [(0x1000, 8, NEXT, 1), (0x1000, 8, NEXT, 0)], [0])
    yield "region_b", desc_seed(2, 1, [(0x10100, 64, NEXT, 1), (0x17ff0, 32, WRITE, 0)], [0])
    yield "batch", desc_seed(5, 3, [(0x1000, 8, NEXT, 1), (0x2000, 8, WRITE, 0),
                                    (0x1000, 8, 0, 0), (0x8000, 8, WRITE, 0)], [0, 2, 3, 40])


# ---- fuzz_vhost_msg: records of u8 nfds, header, payload ----
def msg(request, payload=b"", nfds=0, flags=1):
    return struct.pack("<BIII", nfds, request, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


UADDR = 0x7F0000000000


def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)


def queue_setup(i):
    return (msg(8, state(i, 16)) + msg(10, state(i, 0)) +
            msg(9, struct.pack("<IIQQQQ", i, 0, UADDR + 0x1000 * (i + 1),
                               UADDR + 0x1000 * (i + 1) + 0x400,
                               UADDR + 0x1000 * (i + 1) + 0x200, 0)) +
            msg(12, u64(i), 1) + msg(13, u64(i), 1) + msg(18, state(i, 1)))


def vhost_msg_seeds():
    feats = (1 << 32) | (1 << 29) | (1 << 28) | (1 << 30)
    hello = (msg(1) + msg(15) + msg(16, u64(0b1001)) + msg(3) + msg(17) +
             msg(2, u64(feats)))
    table = msg(5, struct.pack("<II", 1, 0) + region(0, 1 << 20, UADDR, 0), 1, flags=9)
    yield "handshake", hello + table + queue_setup(0) + queue_setup(1) + msg(11, state(1, 0))
    slots = (msg(1) + msg(16, u64(0b1000000000001001)) + msg(36) +
             msg(37, u64(0) + region(0, 1 << 19, UADDR, 0), 1, flags=9) +
             msg(37, u64(0) + region(0x100000, 1 << 19, UADDR + (1 << 19), 1 << 19), 1) +
             queue_setup(2) + msg(38, u64(0) + region(0x100000, 1 << 19, UADDR + (1 << 19), 0)))
    yield "mem_slots", slots
    yield "bad_version", msg(1, flags=2) + msg(1)
    yield "reset", hello + table + queue_setup(1) + msg(4) + msg(12, u64(0x101)) + msg(14, u64(1), 1)


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_desc_chain", desc_chain_seeds())
    write("fuzz_vhost_msg", vhost_msg_seeds())
    sys.exit(0)
