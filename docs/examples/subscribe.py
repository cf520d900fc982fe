#!/usr/bin/env python3
"""Print suspect layers from sigdumpd as they land, resuming where it stopped.

A client of the sigdumpd protocol (docs/protocol.md) built on the sigdump
Python package's client (docs/python.md): it subscribes to suspect layers
only, prints each one, and saves the clock of every event in a file, so the
next start asks the daemon for exactly what it missed ("since"): nothing
lost, nothing twice. Within one start, the library reconnects by itself
when the daemon restarts or the connection breaks. A clock from an earlier
daemon instance gets the current state whole instead ("fresh_instance").

usage: subscribe.py [--socket PATH] [--clock-file FILE] [--pair NAME]
                    [--until-run-end] [--timeout SECONDS]

Needs the sigdump package (`cmake --install build`, or PYTHONPATH=build/python).
"""

import argparse
import os
import sys

try:
    import sigdump
except ImportError as e:
    sys.exit("subscribe.py: cannot import the sigdump Python package (%s); install it with "
             "'cmake --install build' or set PYTHONPATH=build/python (docs/python.md)" % e)


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


def show(ev):
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
        for w in ev.get("warnings") or []:
            print("  warning: %s" % w["text"], flush=True)
    elif kind == "run_reset":
        print("run %s replaced by %s (%s)" % (ev.get("previous"), ev["run"], ev.get("reason")),
              flush=True)
    elif kind == "gap":
        print("(%d events dropped: this client was too slow)" % ev["dropped"], flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", default=sigdump.client.default_socket())
    ap.add_argument("--clock-file", default=default_clock_file())
    ap.add_argument("--pair", help="only this sample/benchmark pair")
    ap.add_argument("--until-run-end", action="store_true",
                    help="exit when a run ends (not a replayed one)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="give up when the daemon is silent this long (seconds)")
    args = ap.parse_args()

    since = load_clock(args.clock_file)
    try:
        with sigdump.Client(args.socket, timeout=args.timeout, client="subscribe.py") as client:
            sub = client.subscribe(pair=args.pair, suspect_only=True, since=since)
    except (FileNotFoundError, ConnectionRefusedError):
        print("subscribe.py: no sigdumpd listening on %s; start it with 'sigdumpd --foreground'"
              % args.socket, file=sys.stderr)
        return 2
    except sigdump.UntrustedSocket as e:
        print("subscribe.py: %s" % e, file=sys.stderr)
        return 2

    with sub:
        if sub.fresh_instance and since:
            print("(saved clock %s is from another daemon instance or too old: current state "
                  "follows)" % since, flush=True)
        print("subscribed to sigdumpd %s pid %s at %s"
              % (sub.hello["version"], sub.hello["pid"], sub.clock), flush=True)
        save_clock(args.clock_file, sub.clock)
        try:
            for ev in sub:
                show(ev)
                save_clock(args.clock_file, sub.clock)
                cut_short = ev.get("reason") in ("truncated", "rewritten", "replaced")
                if (args.until_run_end and ev["event"] == "run_end" and not ev.get("replay")
                        and not cut_short):
                    return 0
        except TimeoutError:
            print("subscribe.py: no event for %s s" % args.timeout, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except (sigdump.DaemonError, ConnectionError) as e:
        print("subscribe.py: error: %s" % e, file=sys.stderr)
        sys.exit(2)
