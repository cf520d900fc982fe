"""sigdump.Client against a real sigdumpd."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import sigdump
from conftest import program


class Daemon:
    def __init__(self, tmp, pair_files):
        self.tmp = tmp
        # A short folder of its own: socket paths are limited to 107 bytes.
        self.run_dir = tempfile.mkdtemp(prefix="sigdump-py-")
        self.sock = os.path.join(self.run_dir, "sock")
        self.args = [program("sigdumpd"), "--foreground", "--socket", self.sock,
                     "--state-dir", str(tmp / "state"),
                     "--pair", "net:%s=%s" % pair_files, "--watch", str(tmp / "dumps")]
        self.proc = None
        self.log = open(tmp / "daemon.log", "ab")

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "sigdumpd exited: " + self.logtext()
            try:
                with sigdump.Client(self.sock, timeout=5):
                    return
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        pytest.fail("sigdumpd never answered: " + self.logtext())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def logtext(self):
        self.log.flush()
        return (self.tmp / "daemon.log").read_text(errors="replace")[-3000:]


@pytest.fixture
def daemon(tmp_path):
    (tmp_path / "dumps").mkdir()
    files = (str(tmp_path / "dumps" / "fixed.bin"), str(tmp_path / "dumps" / "float.bin"))
    d = Daemon(tmp_path, files)
    d.files = files
    d.start()
    yield d
    d.stop()
    shutil.rmtree(d.run_dir, ignore_errors=True)


def simulate(mode, out, *args):
    subprocess.run([program("sigdump"), "simulate", "--mode", mode, "--out", out, *args],
                   check=True, capture_output=True)


def wait_for(pred, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


def pair_done(client):
    pairs = client.status(only="pairs")["pairs"]
    return pairs and pairs[0]["state"] == "ended" and pairs[0]["layers"] == 13


def test_status_runs_tensor(daemon):
    fixed, flt = daemon.files
    simulate("float", flt)
    simulate("fixed", fixed)
    with sigdump.Client(daemon.sock, timeout=10) as c:
        assert c.hello["server"] == "sigdumpd" and c.hello["protocol"] == 1
        wait_for(lambda: pair_done(c), "the pair's run to end")
        st = c.status()
        assert st["daemon"]["socket"] == daemon.sock
        assert st["pairs"][0]["first_bad"]["name"] == "conv3_1/linear/bn_xx"
        runs = c.runs(pair="net")
        assert runs and runs[0]["path"] == fixed
        t = c.tensor("conv3_1/linear/bn_xx", pair="net", values=(0, 8))
        assert t["record"]["name"] == "conv3_1/linear/bn_xx"
        assert t["metrics"]["index"] == 8 and t["metrics"]["suspect"]
        # The same values as reading the file ourselves.
        local = sigdump.open(fixed)["conv3_1/linear/bn_xx"].ravel()[:8].tolist()
        assert t["values"]["data"] == local
        assert c.compare(fixed, flt) == sigdump.compare(fixed, flt).data
        with pytest.raises(sigdump.DaemonError) as e:
            c.tensor("no/such/layer", pair="net")
        assert e.value.code == "not_found"


def test_subscription_resumes_across_a_restart(daemon):
    fixed, flt = daemon.files
    simulate("float", flt)
    sub = sigdump.Client(daemon.sock, timeout=30).subscribe(pair="net", reconnect_timeout=30)
    assert sub.fresh_instance  # no clock given: the state (empty) whole
    writer = subprocess.Popen([program("sigdump"), "simulate", "--mode", "fixed", "--pace-ms",
                               "100", "--out", fixed], stdout=subprocess.DEVNULL)
    events = []
    clock_before = None
    for ev in sub:
        events.append(ev)
        if clock_before is None and sum(e["event"] == "layer" for e in events) == 4:
            clock_before = sub.clock
            daemon.stop()  # the writer goes on while the daemon is down
            daemon.start()
        # The stop ends the run ("stopped"); the restarted daemon either
        # continues that run (the writer finished meanwhile: one run per real
        # run) or starts one that continues it. Follow until the writer's run
        # really ends.
        if ev["event"] == "run_end" and ev.get("reason") != "stopped":
            break
    assert writer.wait(60) == 0
    sub.close()
    assert sub.reconnects == 1 and sub.fresh_instance and sub.clock != clock_before
    layers = [e["layer"] for e in events if e["event"] == "layer"]
    # Every layer once, in order, with the numbers of the offline comparison.
    assert [l["index"] for l in layers] == list(range(13))
    # Live layer events carry no per-channel evidence (offline compare adds
    # it to suspect layers): compare the rest.
    offline = [{k: v for k, v in l.items() if k != "channels"} for l in sigdump.compare(fixed, flt).layers]
    assert layers == offline
    starts = [e for e in events if e["event"] == "run_start"]
    assert 1 <= len(starts) <= 2
    if len(starts) == 2:
        assert starts[1]["continues"] == starts[0]["run"]
    assert events[-1]["event"] == "run_end" and events[-1]["run"] == starts[-1]["run"]


def follow_breaking_the_link(sub, after_layers):
    """The events of sub up to a run_end, its link broken once after
    `after_layers` layer events; closes sub."""
    events = []
    for ev in sub:
        events.append(ev)
        if sum(e["event"] == "layer" for e in events) == after_layers:
            # As if the link broke: what was received but not returned is lost.
            sub._conn.buf = b""
            sub._conn.events.clear()
            # Closed, not shut down: a Unix socket shut down for reading
            # still hands out what its queue holds, which can be the rest of
            # the run (simulate() returns once the whole run is written).
            sub._conn.sock.close()
        if ev["event"] == "run_end":
            break
    sub.close()
    return events


def test_subscription_resumes_on_the_same_daemon(daemon):
    # A connection lost while the daemon stays up: `since` replays exactly
    # what came after the last event returned.
    fixed, flt = daemon.files
    simulate("float", flt)
    sub = sigdump.Client(daemon.sock, timeout=30).subscribe(pair="net")
    simulate("fixed", fixed, "--pace-ms", "20")
    events = follow_breaking_the_link(sub, 5)
    assert sub.reconnects == 1 and not sub.fresh_instance
    assert [e["layer"]["index"] for e in events if e["event"] == "layer"] == list(range(13))
    assert not any(e.get("replay") for e in events)


def test_subscription_since_now(daemon):
    # since="now": no state, no history; only the next run, every layer once
    # even when the link breaks (the reconnect resumes from the subscribe's
    # clock, not from a later "now").
    fixed, flt = daemon.files
    simulate("float", flt)
    simulate("fixed", fixed)
    with sigdump.Client(daemon.sock, timeout=10) as c:
        wait_for(lambda: pair_done(c), "the first run to end")
        old_run = c.runs(pair="net")[0]["run"]
    sub = sigdump.Client(daemon.sock, timeout=30).subscribe(pair="net", since="now")
    assert not sub.fresh_instance and sub.clock.startswith("c:")
    simulate("fixed", fixed, "--pace-ms", "20")
    events = follow_breaking_the_link(sub, 3)
    assert sub.reconnects == 1
    assert events[0]["event"] in ("run_start", "run_reset") and not events[0].get("replay")
    assert all(e.get("run") != old_run for e in events if e["event"] == "layer")
    assert [e["layer"]["index"] for e in events if e["event"] == "layer"] == list(range(13))


def test_untrusted_socket_is_refused(tmp_path):
    # A socket in a folder others may write to: nothing is sent.
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    path = str(folder / "sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    try:
        with pytest.raises(sigdump.UntrustedSocket, match="not private"):
            sigdump.Client(path, timeout=5)
        conn, _ = srv.accept()
        conn.settimeout(1)
        assert conn.recv(100) == b""  # closed without a byte
        conn.close()
    finally:
        srv.close()


def test_default_socket_rule(monkeypatch):
    from sigdump.client import default_socket
    monkeypatch.setenv("SIGDUMP_SOCKET", "/x/sock")
    assert default_socket() == "/x/sock"
    monkeypatch.setenv("SIGDUMP_SOCKET", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/5")
    assert default_socket() == "/run/user/5/sigdump/sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket() == "/tmp/sigdump-%d/sock" % os.getuid()
