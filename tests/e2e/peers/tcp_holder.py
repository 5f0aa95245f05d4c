#!/usr/bin/python3
"""Plain TCP connections, held open and closed on command, for socklb's
counting tests (no protocol: socklb counts connections, not calls).

  tcp_holder.py serve --listen IP:PORT
      accepts and holds every connection; closes its side when the peer
      closes.  Prints "READY listen=IP:PORT".
  tcp_holder.py client --target VIP:PORT --count N [--seed S]
      opens N connections to the target one after the other, prints
      "OPEN n failed=f", then takes commands on stdin, one per line:
        close K   close K of the open connections, picked at random
        quit      close everything and exit
      and answers each with "CLOSED k remaining r".
"""

import argparse
import random
import selectors
import socket
import sys


def split_addr(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def serve(args):
    host, port = split_addr(args.listen)
    lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    print(f"READY listen={args.listen}", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is lsock:
                try:
                    conn, _ = lsock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionError:
                data = b""
            if data == b"":  # the peer closed (or reset): close our side too
                sel.unregister(key.fileobj)
                key.fileobj.close()


def client(args):
    host, port = split_addr(args.target)
    rng = random.Random(args.seed)
    socks, failed = [], 0
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(5)
        try:
            s.connect((host, port))
            socks.append(s)
        except OSError:
            failed += 1
            s.close()
    print(f"OPEN {len(socks)} failed={failed}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "close":
            k = min(int(words[1]), len(socks))
            rng.shuffle(socks)
            for s in socks[:k]:
                s.close()
            socks = socks[k:]
            print(f"CLOSED {k} remaining {len(socks)}", flush=True)
    for s in socks:
        s.close()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--listen", required=True)
    cp = sub.add_parser("client")
    cp.add_argument("--target", required=True)
    cp.add_argument("--count", type=int, required=True)
    cp.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    return serve(args) if args.mode == "serve" else client(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
