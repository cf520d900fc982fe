"""sigdump.Client(host="ssh://...") against a real sigdumpd behind a real
sshd (tests/support/start_sshd.sh: throwaway keys and config, loopback
port), the way `sigdump --host` reaches it: ssh running `sigdump dial-stdio`
on the far side."""

import os
import signal
import subprocess

import pytest

import sigdump
from conftest import program
from test_client import daemon, simulate  # noqa: F401 (the fixture)

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "support", "start_sshd.sh")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd") / "ssh"
    r = subprocess.run(["bash", SCRIPT, str(d)], capture_output=True, text=True, check=False)
    if r.returncode == 77:
        pytest.skip(r.stdout.strip())  # OpenSSH is not installed
    assert r.returncode == 0, r.stdout + r.stderr
    yield {"url": "ssh://127.0.0.1:%s" % r.stdout.split()[0], "config": str(d / "ssh_config")}
    os.kill(int((d / "sshd.pid").read_text()), signal.SIGTERM)


@pytest.fixture
def remote_env(sshd, monkeypatch):
    monkeypatch.setenv("SIGDUMP_SSH", "ssh -F " + sshd["config"])
    monkeypatch.setenv("SIGDUMP_REMOTE_BIN", program("sigdump"))
    monkeypatch.delenv("SIGDUMP_HOST", raising=False)
    return sshd["url"]


def test_host_url_and_command():
    h = sigdump.client.parse_host("ssh://alice@build-1:2222/run/user/1000/sigdump/sock")
    assert h == {"user": "alice", "host": "build-1", "port": "2222",
                 "socket": "/run/user/1000/sigdump/sock"}
    assert sigdump.client.parse_host("ssh://[::1]")["host"] == "::1"
    for bad in ("build-1", "ssh://", "ssh://h:0", "ssh://h:99999", "ssh://-oProxyCommand=x"):
        with pytest.raises(ValueError, match="bad remote host"):
            sigdump.client.parse_host(bad)
    argv = sigdump.client.ssh_command("ssh://alice@build-1:2222", "/tmp/my sock")
    assert argv[argv.index("--"):] == ["--", "build-1", "sigdump dial-stdio --socket '/tmp/my sock'"]
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "alice"


def test_client_over_ssh_resumes_after_the_connection_is_killed(daemon, remote_env):
    fixed, flt = daemon.files
    simulate("float", flt)
    with sigdump.Client(daemon.sock, timeout=30, host=remote_env) as c:
        assert c.hello["server"] == "sigdumpd"
        assert c.status()["daemon"]["socket"] == daemon.sock
    sub = sigdump.Client(daemon.sock, timeout=30, host=remote_env).subscribe(pair="net")
    writer = subprocess.Popen([program("sigdump"), "simulate", "--mode", "fixed", "--pace-ms",
                               "100", "--out", fixed], stdout=subprocess.DEVNULL)
    events = []
    killed = False
    for ev in sub:
        events.append(ev)
        if not killed and sum(e["event"] == "layer" for e in events) == 4:
            sub._conn.proc.kill()  # the ssh connection dies; the daemon stays
            killed = True
        if ev["event"] == "run_end":
            break
    sub.close()
    assert writer.wait(60) == 0
    assert sub.reconnects == 1 and not sub.fresh_instance
    assert [e["layer"]["index"] for e in events if e["event"] == "layer"] == list(range(13))
    assert [e["event"] for e in events].count("run_start") == 1


def test_sigdump_host_and_a_missing_daemon(daemon, remote_env, monkeypatch):
    monkeypatch.setenv("SIGDUMP_HOST", remote_env + daemon.sock)
    with sigdump.Client(timeout=30) as c:
        assert c.status()["daemon"]["socket"] == daemon.sock
    with pytest.raises(ConnectionError, match=r"ssh exited with status 2"):
        sigdump.Client(timeout=30, host=remote_env + daemon.sock + "-none")
