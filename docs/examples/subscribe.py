#!/usr/bin/env python3
"""Print suspect layers from sigdumpd as they land, resuming where it stopped.

A complete client of the sigdumpd protocol (docs/protocol.md) in standard
library Python: it connects to the daemon's Unix socket, subscribes to
suspect layers only, prints each one, and saves the clock of every event in
a file, so the next start asks the daemon for exactly what it missed
("since"): nothing lost, nothing twice, even across reconnects. A clock from
an earlier daemon instance gets the current state whole instead
("fresh_instance").

usage: subscribe.py [--socket PATH] [--clock-file FILE] [--pair NAME]
                    [--until-run-end] [--timeout SECONDS]
"""

import argparse
import json
import os
import socket
import stat
import struct
import sys


def default_socket():
    # The same rule as sigdump and sigdumpd.
    if os.environ.get("SIGDUMP_SOCKET"):
        return os.environ["SIGDUMP_SOCKET"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "sigdump", "sock")
    return "/tmp/sigdump-%d/sock" % os.getuid()


def default_clock_file():
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "sigdump", "subscribe-example.clock")


def load_clock(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def save_clock(path, clock):
    # Write a temp file and rename it: a crash leaves the old clock or the new one.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(clock + "\n")
    os.replace(tmp, path)


def metric(layer, key):
    # NaN travels as null in JSON; a layer that could not be compared has none.
    v = layer.get(key)
    return "nan" if v is None else "%.6f" % v


def trusted_uids():
    # Our uid, root, and SIGDUMP_TRUST_UIDS (as sigdump itself).
    uids = {os.geteuid(), 0}
    for item in os.environ.get("SIGDUMP_TRUST_UIDS", "").split(","):
        if item.strip().isdigit():
            uids.add(int(item))
    return uids


class UntrustedSocket(Exception):
    pass


def check_trusted(sock, path):
    # The same rule as sigdump: the process serving the socket runs as us or
    # root, and its folder is owned by one of those and private, so nobody
    # else can have put a socket of theirs there.
    pid, uid, _ = struct.unpack("3i", sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid not in trusted_uids():
        raise UntrustedSocket(
            "%s is served by uid %d (pid %d), not by you or root; refusing to talk to it"
            % (path, uid, pid))
    folder = os.path.dirname(os.path.abspath(path))
    st = os.stat(folder)
    if st.st_uid not in trusted_uids() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedSocket(
            "%s: its folder %s is not private to you or root; refusing to talk to it"
            % (path, folder))


class Connection:
    """One JSON object per line each way; replies matched by id, events kept."""

    MAX_LINE = 1 << 20

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        check_trusted(self.sock, path)
        self.buf = b""
        self.next_id = 1
        self.events = []

    def send(self, method, params=None):
        msg = {"id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.next_id += 1
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        return msg["id"]

    def read_message(self):
        while b"\n" not in self.buf:
            if len(self.buf) > self.MAX_LINE:
                raise RuntimeError("daemon sent a line over 1 MiB")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("sigdumpd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None):
        want = self.send(method, params)
        while True:
            msg = self.read_message()
            if "event" in msg:
                self.events.append(msg)  # events may come before the reply
            elif msg.get("id") in (want, None):
                if "error" in msg:
                    err = msg["error"]
                    raise RuntimeError("%s: %s" % (err.get("code"), err.get("message")))
                return msg["result"]

    def next_event(self):
        if self.events:
            return self.events.pop(0)
        while True:
            msg = self.read_message()
            if "event" in msg:
                return msg
            if "error" in msg:  # a transport error: overloaded, line_too_long
                raise RuntimeError("%s: %s" % (msg["error"].get("code"), msg["error"].get("message")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", default=default_socket())
    ap.add_argument("--clock-file", default=default_clock_file())
    ap.add_argument("--pair", help="only this sample/benchmark pair")
    ap.add_argument("--until-run-end", action="store_true",
                    help="exit when a run ends (not a replayed one)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="give up when the daemon is silent this long (seconds)")
    args = ap.parse_args()

    try:
        conn = Connection(args.socket, args.timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        print("subscribe.py: no sigdumpd listening on %s; start it with 'sigdumpd --foreground'"
              % args.socket, file=sys.stderr)
        return 2
    except UntrustedSocket as e:
        print("subscribe.py: %s" % e, file=sys.stderr)
        return 2

    hello = conn.call("hello", {"client": "subscribe.py", "protocol": 1})
    params = {"suspect_only": True}
    if args.pair:
        params["pair"] = args.pair
    since = load_clock(args.clock_file)
    if since:
        params["since"] = since
    result = conn.call("subscribe", params)
    if result["fresh_instance"] and since:
        print("(saved clock %s is from another daemon instance or too old: current state follows)"
              % since, flush=True)
    print("subscribed to sigdumpd %s pid %s at %s" % (hello["version"], hello["pid"], result["clock"]),
          flush=True)
    save_clock(args.clock_file, result["clock"])

    while True:
        try:
            ev = conn.next_event()
        except socket.timeout:
            print("subscribe.py: no event for %s s" % args.timeout, file=sys.stderr)
            return 2
        kind = ev["event"]
        if kind == "layer":
            layer = ev["layer"]
            print("SUSPECT run %s layer %d %s  MSE %s COS %s RMSE %s%s"
                  % (ev["run"], layer["index"], layer["name"], metric(layer, "mse"),
                     metric(layer, "cos"), metric(layer, "rmse"),
                     "  (replay)" if ev.get("replay") else ""), flush=True)
        elif kind in ("run_end", "run_revised"):
            # run_revised: an ended run's results changed (its benchmark came late).
            bad = ev.get("first_bad")
            how = "ended" if kind == "run_end" else "revised (was %s)" % ev.get("previous_verdict")
            print("run %s %s: %d layers, %d suspect%s" % (
                ev["run"], how, ev["layers"], ev["suspect"],
                ", first bad %d %s" % (bad["index"], bad["name"]) if bad else ""), flush=True)
            if ev.get("coverage"):
                print("  coverage: %s" % ev["coverage"]["text"], flush=True)
                print("  verdict: %s" % ev["verdict"], flush=True)
            if ev.get("benchmark_run"):
                print("  compared with benchmark run %s" % ev["benchmark_run"], flush=True)
        elif kind == "run_reset":
            print("run %s replaced by %s (%s)" % (ev.get("previous"), ev["run"], ev.get("reason")),
                  flush=True)
        elif kind == "gap":
            print("(%d events dropped: this client was too slow)" % ev["dropped"], flush=True)
        save_clock(args.clock_file, ev["clock"])
        cut_short = ev.get("reason") in ("truncated", "rewritten", "replaced")
        if args.until_run_end and kind == "run_end" and not ev.get("replay") and not cut_short:
            return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except (RuntimeError, ConnectionError) as e:
        print("subscribe.py: error: %s" % e, file=sys.stderr)
        sys.exit(2)
