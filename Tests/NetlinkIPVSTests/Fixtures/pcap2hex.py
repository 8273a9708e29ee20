#!/usr/bin/env python3
"""Turn an nlmon capture (tcpdump -w on an nlmon link) into a fixture file.

Keeps the IPVS generic netlink messages of one command: requests to the
family (marked ">") and the kernel's replies (marked "<"), including the
NLMSG_ERROR acks and NLMSG_DONE that carry a request's sequence number.
The family id is read from the controller's reply, so nothing is guessed.
ipvsadm's start-up IPVS_CMD_GET_INFO exchange is left out: Ballast never
sends it.

usage: pcap2hex.py CAPTURE.pcap "COMMAND" > NAME.txt
"""
import struct
import sys

GENL_ID_CTRL = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST = 0x1
IPVS_CMD_GET_INFO = 15
CTRL_ATTR_FAMILY_ID = 1
NLMON_HEADER = 16  # LINKTYPE_NETLINK pseudo header before each skb


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    assert magic == 0xA1B2C3D4, "little-endian microsecond pcap expected"
    offset = 24
    while offset < len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        yield data[offset + NLMON_HEADER:offset + caplen]
        offset += caplen


def messages(skb):
    offset = 0
    while offset + 16 <= len(skb):
        length = struct.unpack_from("<I", skb, offset)[0]
        if length < 16:
            break
        yield skb[offset:offset + length]
        offset += (length + 3) & ~3


def family_id(msg):
    offset = 20  # nlmsghdr + genlmsghdr
    while offset + 4 <= len(msg):
        length, kind = struct.unpack_from("<HH", msg, offset)
        if kind == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("<H", msg, offset + 4)[0]
        offset += (length + 3) & ~3
    return None


def main():
    path, command = sys.argv[1], sys.argv[2]
    ipvs = None
    seqs = set()
    skipped = set()
    print(f"# {command}")
    for skb in packets(path):
        for msg in messages(skb):
            kind, flags, seq, pid = struct.unpack_from("<HHII", msg, 4)
            # ipvsadm opens a socket per request and seeds sequence numbers
            # from the clock, so only (seq, port id) tells requests apart.
            seq = (seq, pid)
            if kind == GENL_ID_CTRL and not flags & NLM_F_REQUEST:
                ipvs = family_id(msg) or ipvs
                continue
            if ipvs is not None and kind == ipvs:
                if flags & NLM_F_REQUEST:
                    if msg[16] == IPVS_CMD_GET_INFO:
                        skipped.add(seq)
                        continue
                    seqs.add(seq)
                if seq not in skipped:
                    print(("> " if flags & NLM_F_REQUEST else "< ") + msg.hex())
            elif kind == NLMSG_DONE and seq in seqs:
                print("< " + msg.hex())
            elif kind == NLMSG_ERROR and seq in seqs and len(msg) >= 36:
                # An ack echoes the request's header: keep only acks of IPVS requests.
                if struct.unpack_from("<H", msg, 24)[0] == ipvs:
                    print("< " + msg.hex())


main()
