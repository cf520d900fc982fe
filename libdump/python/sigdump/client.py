"""A client of sigdumpd (docs/protocol.md) in standard-library Python.

    >>> c = sigdump.Client()                 # the socket sigdump itself uses
    >>> c.status()["pairs"]
    >>> for ev in c.subscribe(pair="net"):   # resumes across daemon restarts
    ...     print(ev["event"], ev.get("layer", {}).get("name"))
    >>> sigdump.Client(host="ssh://me@buildsrv").status()   # another machine's daemon
"""

import json
import os
import re
import shlex
import signal
import socket as _socket
import stat
import struct
import subprocess
import sys
import time

from ._errors import DaemonError, UntrustedSocket

PROTOCOL = 1
MAX_LINE = 1 << 20


def default_socket():
    """The socket path sigdump and sigdumpd use: $SIGDUMP_SOCKET, else
    $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-UID/sock (empty
    variables count as unset)."""
    if os.environ.get("SIGDUMP_SOCKET"):
        return os.environ["SIGDUMP_SOCKET"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "sigdump", "sock")
    return "/tmp/sigdump-%d/sock" % os.getuid()


def trusted_uids():
    """Our uid, root, and those in $SIGDUMP_TRUST_UIDS."""
    uids = {os.geteuid(), 0}
    for item in os.environ.get("SIGDUMP_TRUST_UIDS", "").split(","):
        if item.strip().isdigit():
            uids.add(int(item))
    return uids


def check_trusted(sock, path):
    """The client rule of docs/protocol.md: the process serving the socket
    runs as us or root (or a uid of SIGDUMP_TRUST_UIDS), and the socket's
    folder is owned by one of those and not writable by group or others.
    Raises UntrustedSocket otherwise (before anything is sent)."""
    pid, uid, _ = struct.unpack("3i", sock.getsockopt(
        _socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i")))
    uids = trusted_uids()
    if uid not in uids:
        raise UntrustedSocket(
            "%s is served by uid %d (pid %d), not by you or root; refusing to talk to it"
            % (path, uid, pid))
    folder = os.path.dirname(os.path.abspath(path))
    st = os.stat(folder)
    if st.st_uid not in uids or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedSocket(
            "%s: its folder %s is not private to you or root; refusing to talk to it"
            % (path, folder))


_HOST_RE = re.compile(r"^ssh://(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/\[\]]+)(?::([0-9]{1,5}))?(/.*)?$")


def parse_host(url):
    """The parts of ``ssh://[user@]host[:port][/path/to/socket]`` as a dict
    (user, host, port, socket; None when absent), the rule of
    ``sigdump --host``. ValueError naming the URL otherwise."""
    m = _HOST_RE.match(url or "")
    bad = m is None or m.group(2).startswith("-") or re.search(r"[\s\x00-\x1f]", url)
    if not bad and m.group(3) is not None:
        bad = not 1 <= int(m.group(3)) <= 65535
    if bad:
        raise ValueError("bad remote host %r; the form is ssh://[user@]host[:port][/path/to/socket]"
                         % url)
    user, host, port, path = m.groups()
    return {"user": user, "host": host.strip("[]"), "port": port,
            "socket": path if path and path != "/" else None}


def ssh_command(url, socket=None):
    """The command ``sigdump --host URL`` runs: $SIGDUMP_SSH (split at
    spaces; default ssh), -T, -o BatchMode=yes unless stdin and stderr are
    terminals, -p PORT, -l USER, then ``-- HOST sigdump dial-stdio
    [--socket S]`` with the program from $SIGDUMP_REMOTE_BIN (default:
    sigdump from the remote PATH). ``socket`` (or the URL's path) is the
    daemon's socket on that machine."""
    h = parse_host(url)
    if socket is not None and h["socket"] is not None and socket != h["socket"]:
        raise ValueError("the remote socket is given twice, as %s in the host URL and as %s"
                         % (h["socket"], socket))
    socket = socket if socket is not None else h["socket"]
    argv = os.environ.get("SIGDUMP_SSH", "").split() or ["ssh"]
    argv.append("-T")
    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stderr is not None
            and sys.stderr.isatty()):
        argv += ["-o", "BatchMode=yes"]
    if h["port"]:
        argv += ["-p", h["port"]]
    if h["user"]:
        argv += ["-l", h["user"]]
    remote = [os.environ.get("SIGDUMP_REMOTE_BIN") or "sigdump", "dial-stdio"]
    if socket:
        remote += ["--socket", socket]
    return argv + ["--", h["host"], " ".join(shlex.quote(w) for w in remote)]


def _ignore_interrupts():
    # Ctrl-C reaches us, not ssh: we end the connection ourselves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


class _Connection:
    """One JSON object per line each way; replies matched by id, events kept.
    With ``host`` the connection is the stdin/stdout of ssh running
    ``sigdump dial-stdio`` there (ssh_command); the peer checks are then
    made by dial-stdio on that machine."""

    def __init__(self, path, timeout, host=None):
        self.proc = None
        if host:
            self.sock, theirs = _socket.socketpair()
            try:
                self.proc = subprocess.Popen(ssh_command(host, path), stdin=theirs,
                                             stdout=theirs, preexec_fn=_ignore_interrupts)
            except BaseException:
                self.sock.close()
                raise
            finally:
                theirs.close()
            self.sock.settimeout(timeout)
        else:
            self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                check_trusted(self.sock, path)
            except BaseException:
                self.sock.close()
                raise
        self.buf = b""
        self.next_id = 1
        self.events = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def closed_message(self):
        if self.proc is None:
            return "sigdumpd closed the connection"
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            return "sigdumpd closed the connection"
        how = ("was killed by signal %d" % -code) if code < 0 else ("exited with status %d" % code)
        return "sigdumpd closed the connection (ssh %s; its message, if any, is above)" % how

    def send(self, method, params=None):
        msg = {"id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.next_id += 1
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        return msg["id"]

    def read_message(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise DaemonError("line_too_long", "sigdumpd sent a line over 1 MiB")
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:  # ssh exited with our request unread
                chunk = b""
            if not chunk:
                raise ConnectionError(self.closed_message())
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
                    raise DaemonError(err.get("code"), err.get("message"))
                return msg["result"]

    def next_event(self):
        if self.events:
            return self.events.pop(0)
        while True:
            msg = self.read_message()
            if "event" in msg:
                return msg
            if "error" in msg:  # a transport error: overloaded, line_too_long
                raise DaemonError(msg["error"].get("code"), msg["error"].get("message"))


def _params(**kw):
    return {k: v for k, v in kw.items() if v is not None}


class Client:
    """A connection to sigdumpd.

    ``socket``: the socket path (default: the rule of sigdump and sigdumpd,
    see default_socket()). ``timeout``: seconds to wait for the daemon on
    each read (None: forever). The daemon is checked before anything is sent
    (check_trusted). Raises FileNotFoundError / ConnectionRefusedError when
    no daemon listens there. Usable as a context manager.

    ``host``: ``ssh://[user@]host[:port][/socket]`` (default:
    $SIGDUMP_HOST) talks to the daemon of that machine through ssh, as
    ``sigdump --host`` does (ssh_command); ``socket`` then names the socket
    there (default: that machine's default). No daemon there raises
    ConnectionError with ssh's exit status (ssh's message is on stderr).
    """

    def __init__(self, socket=None, timeout=None, client="sigdump-python", host=None):
        self.host = host if host is not None else (os.environ.get("SIGDUMP_HOST") or None)
        if self.host:
            parse_host(self.host)  # a bad URL fails here, not in ssh
            self.socket = os.fspath(socket) if socket is not None else None
        else:
            self.socket = os.fspath(socket) if socket is not None else default_socket()
        self.timeout = timeout
        self.client = client
        self._conn = _Connection(self.socket, timeout, self.host)
        self.hello = self._conn.call("hello", {"client": client, "protocol": PROTOCOL})

    def close(self):
        """Closes the connection."""
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method, params=None):
        """Sends one request and returns its result (DaemonError on error)."""
        return self._conn.call(method, params)

    def status(self, only=None):
        """The `status` result: daemon, watched, files, pairs (and archive);
        ``only`` one of those keys."""
        return self.call("status", _params(only=only))

    def runs(self, pair=None, path=None, limit=None):
        """The runs the daemon has seen, newest first (a list of dicts)."""
        return self.call("runs", _params(pair=pair, path=path, limit=limit))["runs"]

    def tensors(self, match=None, kind=None, offset=None, limit=None, run=None, pair=None,
                path=None):
        """The records of one tracked file (the `tensors` result)."""
        return self.call("tensors", _params(match=match, kind=kind, offset=offset, limit=limit,
                                            run=run, pair=pair, path=path))

    def tensor(self, name, pair=None, run=None, path=None, occurrence=None, values=None):
        """One tensor of a tracked file: record, stats, the pair's metrics of
        that layer, its locator and, with ``values=(A, B)``, elements A..B."""
        return self.call("tensor", _params(name=name, pair=pair, run=run, path=path,
                                           occurrence=occurrence,
                                           values=list(values) if values is not None else None))

    def compare(self, sample, benchmark, cos_min=None, rmse_max=None, include_constants=None,
                include_inputs=None):
        """The daemon compares two tracked files (paths or run ids): the
        object of `sigdump compare --json`."""
        return self.call("compare", _params(sample=sample, benchmark=benchmark, cos_min=cos_min,
                                            rmse_max=rmse_max,
                                            include_constants=include_constants,
                                            include_inputs=include_inputs))

    def subscribe(self, pair=None, path=None, run=None, suspect_only=False, since=None,
                  reconnect=True, reconnect_timeout=60.0):
        """Events as they happen, as an iterator of dicts (see Subscription)."""
        return Subscription(self.socket, self.timeout, self.client,
                            _params(pair=pair, path=path, run=run,
                                    suspect_only=True if suspect_only else None),
                            since, reconnect, reconnect_timeout, self.host)


def _tick(clock):
    # "c:START:PID:TICK" -> ("START:PID", TICK)
    try:
        _, start, pid, tick = clock.split(":")
        return start + ":" + pid, int(tick)
    except (AttributeError, ValueError):
        return None, None


class Subscription:
    """An iterator of sigdumpd events (dicts: ``event``, ``clock``, ...).

    It remembers the clock of the last event it returned (``clock``; pass it
    as ``since`` to resume later, even in another process). ``since="now"``
    skips the daemon's state and history: only events published after the
    subscribe follow (``clock`` is then the daemon's clock at that moment). When the
    connection breaks (the daemon restarts, is overloaded) and ``reconnect``
    is true, it connects again, retrying for up to ``reconnect_timeout``
    seconds, and subscribes with ``since`` = that clock:
    - the same daemon instance replays exactly the events after it;
    - a new instance (a restart) sends its current state whole
      (``fresh_instance``). A file the daemon found again at start-up gets
      a new run; its ``run_start`` is returned with ``"continues"`` naming
      the run this iterator was following for that file (which never got
      its run_end), and its layers that equal layers already returned for
      that run (same index, same metrics; replayed, or compared after the
      subscribe) are skipped, as are replayed events returned before. So nothing is returned twice and
      nothing is lost; a file rewritten while the daemon was down shows
      up as different layers, which are returned.
    ``reconnects`` counts the reconnections. ``gap`` events (this client
    was too slow) are returned as they come.
    """

    def __init__(self, socket, timeout, client, params, since, reconnect, reconnect_timeout,
                 host=None):
        self.socket = socket
        self.host = host
        self.timeout = timeout
        self.client = client
        self.params = params
        self.clock = since
        self.reconnect = reconnect
        self.reconnect_timeout = reconnect_timeout
        self.reconnects = 0
        self.fresh_instance = None
        self.hello = None
        self._conn = None
        self._seen = set()  # (kind, path, run, index) already returned
        self._runs = {}  # path -> [run, ended, {layer index: layer}] last returned
        self._continues = {}  # new run -> run it continues after a restart
        self._instance = None
        self._last_tick = 0
        self._open()

    def _open(self):
        conn = _Connection(self.socket, self.timeout, self.host)
        try:
            self.hello = conn.call("hello", {"client": self.client, "protocol": PROTOCOL})
            params = dict(self.params)
            if self.clock:
                params["since"] = self.clock
            result = conn.call("subscribe", params)
        except BaseException:
            conn.close()
            raise
        self.fresh_instance = result["fresh_instance"]
        if not self.clock or self.fresh_instance or self.clock == "now":
            # Events of the state that follows carry this clock; after
            # "now", a reconnect resumes from here (not from a later "now").
            self.clock = result["clock"]
        self._instance, self._last_tick = _tick(result["clock"])
        if not self.fresh_instance:
            self._last_tick = _tick(self.clock)[1] or 0
        self._conn = conn

    def _reopen(self):
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            try:
                self._open()
                self.reconnects += 1
                return
            except (FileNotFoundError, ConnectionRefusedError, ConnectionError, _socket.timeout):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def close(self):
        """Closes the connection; iterating afterwards reconnects (when
        ``reconnect``) with the last clock."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    @staticmethod
    def _key(ev):
        kind = ev.get("event")
        if kind == "layer":
            return ("layer", ev.get("path"), ev.get("run"), ev["layer"].get("index"))
        if kind in ("run_start", "run_end"):
            return (kind, ev.get("path"), ev.get("run"), None)
        if kind == "run_reset":
            return (kind, ev.get("path"), ev.get("run"), ev.get("previous"))
        return None

    def _repeats(self, ev):
        # A layer of a run that continues one we followed, equal to
        # the layer of that index we returned then.
        if ev.get("event") != "layer":
            return False
        old = self._continues.get(ev.get("run"))
        state = self._runs.get(ev.get("path"))
        if old is None or state is None or state[0] != old:
            return False
        layer = ev["layer"]
        return state[2].get(layer.get("index")) == layer

    def _note(self, ev):
        kind, path, run = ev.get("event"), ev.get("path"), ev.get("run")
        if kind == "run_start":
            state = self._runs.get(path)
            if (ev.get("replay") and self.fresh_instance and state is not None and not state[1]
                    and state[0] != run):
                self._continues[run] = state[0]
                ev["continues"] = state[0]
                return  # layers are still compared against the followed run's
            self._runs[path] = [run, False, {}]
        elif kind == "layer":
            state = self._runs.get(path)
            if state is None or (state[0] != run and self._continues.get(run) != state[0]):
                state = self._runs[path] = [run, False, {}]
            state[2][ev["layer"].get("index")] = ev["layer"]
        elif kind == "run_end":
            state = self._runs.get(path)
            if state is not None and (state[0] == run or self._continues.get(run) == state[0]):
                state[1] = True

    def __next__(self):
        while True:
            if self._conn is None:
                if not self.reconnect:
                    raise StopIteration
                self._reopen()
            try:
                ev = self._conn.next_event()
            except _socket.timeout:
                raise TimeoutError("no event from sigdumpd for %s s" % self.timeout) from None
            except (ConnectionError, OSError):
                self.close()
                if not self.reconnect:
                    raise
                continue
            instance, tick = _tick(ev.get("clock"))
            if (instance == self._instance and not ev.get("replay") and tick is not None
                    and tick <= self._last_tick):
                continue  # already returned before a reconnect
            key = self._key(ev)
            # A layer of the continuing run repeats one returned whether it
            # is replayed or compared after the subscribe (the restarted
            # daemon's workers may not have reached it yet).
            if (ev.get("replay") and key is not None and key in self._seen) or self._repeats(ev):
                self.clock = ev["clock"]
                continue  # the restarted daemon's state repeats it
            if key is not None:
                self._seen.add(key)
            self._note(ev)
            if tick is not None and instance == self._instance and not ev.get("replay"):
                self._last_tick = tick
            self.clock = ev["clock"]
            return ev
