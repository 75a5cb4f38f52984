"""The processes under the chaos soak (scripts/soak.py) and the means to hurt them: redis-server
(AOF, `appendfsync always`), `shaplab serve --workers 0` and the `shaplab worker`s, each worker
reaching Redis through its own fault-injecting TCP proxy run here.

Why a module of its own: soak.py decides what happens (jobs, fault schedule, verification,
report); this file only knows how to start, signal, kill, restart and clean up processes, so
neither has to be read to change the other. Everything it starts is remembered, so the soak
can always kill it all and remove its temp dir, on Ctrl-C, SIGTERM/SIGHUP and failure too.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

WORKERS, CHUNK_ROWS = 3, 10
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ok, within, every=0.05):
    """Seconds until `ok()` holds (polled every `every`), or None after `within`."""
    start = time.time()
    while time.time() < start + within:
        if ok():
            return time.time() - start
        time.sleep(every)
    return None


def http(base, path, body=None, headers=None, timeout=10):
    """(status, body, headers) of one request; status 0 when nothing answered. Here and not
    in soak.py because starting `serve` waits for its /healthz."""
    req = urllib.request.Request(base + path, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except OSError:
        return 0, b"", {}


def redis_cli(port, *args):
    """Redis read directly (never through the proxies) with redis-cli."""
    run = subprocess.run(["redis-cli", "-p", str(port), "--raw", *args], capture_output=True,
                         text=True, timeout=30)
    return run.stdout.strip()


def exit_on_signals():
    """Ctrl-C even when started from a shell that ignores SIGINT in background jobs; SIGTERM
    and SIGHUP take the same way out (so the caller's `finally` runs `System.cleanup`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))


# --- the fault-injecting proxy ----------------------------------------------------------

class Proxy:
    """Loopback TCP proxy to Redis. Blackholed, it keeps every connection open (and accepts
    new ones) but forwards nothing either way; the bytes wait in the socket buffers and flow
    when it passes again, as TCP retransmission would deliver them, so a stream never loses
    bytes in the middle (the semantics of server/tests/support/proxy.rs). With Redis down it
    accepts and closes at once, as a TCP load balancer or docker-proxy does."""

    def __init__(self, upstream):
        self.upstream, self.passing = upstream, threading.Event()
        self.passing.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=2)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                self.passing.wait()  # blackholed: hold this read and stop reading
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):  # one side closed: close both, so the other pump ends too
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in the other thread
            except OSError:
                pass
            s.close()

    def blackhole(self, seconds):
        self.passing.clear()
        time.sleep(seconds)
        self.passing.set()


# --- the processes ----------------------------------------------------------------------

class System:
    """redis-server, `serve` and the workers, in a temp dir of their own. Remembers every
    process it ever started, so `stop` kills them all, and the worker slot of every worker
    pid."""

    def __init__(self, binary):
        tmp = Path(tempfile.mkdtemp(prefix="shaplab-soak-"))
        self.bin, self.tmp, self.logs = binary, tmp, tmp / "logs"
        for d in ("logs", "redis", "blobs", "serve"):
            (tmp / d).mkdir()
        self.redis_port, self.port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started, self.runs, self.slot_of_pid, self.proxies = [], {}, {}, []
        self.redis = self.serve = None
        self.workers = [None] * WORKERS

    def spawn(self, name, argv, env=None):
        n = self.runs[name] = self.runs.get(name, 0) + 1
        with open(self.logs / f"{name}.{n}.log", "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 env={**os.environ, **(env or {})})
        self.started.append(p)
        return p

    def start(self):
        """Redis (once it answers PING), then `serve` (once /healthz answers), then every
        worker."""
        self.start_redis()
        if wait_until(lambda: redis_cli(self.redis_port, "PING") == "PONG", 30) is None:
            raise SystemExit("soak: redis-server did not start")
        self.start_serve()
        for slot in range(WORKERS):
            self.start_worker(slot)

    def start_redis(self):
        # appendfsync always: a kill -9 loses no acknowledged write (operations.md); no RDB
        # snapshots, so every restart replays the AOF in the same --dir.
        self.redis = self.spawn("redis", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
            "--dir", str(self.tmp / "redis"), "--appendonly", "yes", "--appendfsync", "always",
            "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no"])

    def env(self, redis_port, data_dir):
        return {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "QUEUE_PARTITIONS": "1",
                "SHAPLAB_DATA_DIR": str(data_dir), "CHUNK_ROWS": str(CHUNK_ROWS),
                # One blob store for all, as a shared mount would be on several machines.
                "BLOB_STORE_URL": f"file://{self.tmp / 'blobs'}"}

    def start_serve(self):
        # serve reaches Redis directly: the faults under test are the workers' and Redis's.
        env = self.env(self.redis_port, self.tmp / "serve")
        env.update(PORT=str(self.port), SHAPLAB_RATE_LIMIT="0",
                   SHAPLAB_MAX_ACTIVE_JOBS="1000000", SHAPLAB_WORKERS="0")
        self.serve = self.spawn("serve", [self.bin, "serve", "--workers", "0"], env)
        if wait_until(lambda: http(self.base, "/healthz")[0] == 200, 30) is None:
            raise SystemExit("soak: serve did not answer /healthz within 30 s")

    def start_worker(self, slot):
        if len(self.proxies) <= slot:
            self.proxies.append(Proxy(self.redis_port))
        (self.tmp / f"worker{slot}").mkdir(exist_ok=True)
        env = self.env(self.proxies[slot].port, self.tmp / f"worker{slot}")
        # The debug line "claimed" counts chunk executions (see soak.py's claims_received).
        env["SHAPLAB_LOG"] = "info,server::queue::worker=debug"
        p = self.spawn(f"worker{slot}", [self.bin, "worker", "--workers", "1"], env)
        self.workers[slot], self.slot_of_pid[p.pid] = p, slot

    def fault(self, kind, slot, length):
        """Applies one fault (a kind of soak.py's KINDS) for `length` s and returns once it
        is over: kill -9 then restart (Redis in the same --dir, so on its AOF; a worker with
        a new pid), SIGSTOP then SIGCONT, or worker `slot`'s proxy blackholed."""
        on_redis = kind.startswith("redis")
        proc = self.redis if on_redis else self.workers[slot]
        if kind.endswith("kill"):
            proc.kill()
            proc.wait()
            time.sleep(length)
            self.start_redis() if on_redis else self.start_worker(slot)
        elif kind.endswith("stop"):
            proc.send_signal(signal.SIGSTOP)
            time.sleep(length)
            proc.send_signal(signal.SIGCONT)
        else:
            self.proxies[slot].blackhole(length)

    def log_mark(self, slot):
        """Where worker `slot`'s current log ends now."""
        path = self.logs / f"worker{slot}.{self.runs[f'worker{slot}']}.log"
        return path, path.stat().st_size

    @staticmethod
    def claimed_since(mark):
        """Whether that worker has claimed a chunk since `mark` (its debug line "claimed")."""
        with open(mark[0], "rb") as f:
            f.seek(mark[1])
            return b" claimed " in f.read()

    def check(self):
        """Fails the run if a process exited that no fault stopped: a crash (a product bug,
        exit 1) or a signal from outside this soak (inconclusive, exit 2)."""
        for name, p in [("serve", self.serve), ("redis", self.redis)] + [
                (f"worker{i}", w) for i, w in enumerate(self.workers)]:
            if p.poll() is not None:
                log = (self.logs / f"{name}.{self.runs[name]}.log").read_text(errors="replace")
                outside = "shutting down" in log or p.returncode in (-2, -15)
                print(f"soak: {name} (pid {p.pid}) exited with {p.returncode}, not by a fault: "
                      + ("a signal from outside this soak; rerun" if outside else
                         "it crashed; its log ends:\n" + ANSI.sub("", log[-3000:])))
                raise SystemExit(2 if outside else 1)

    def stop(self):
        for p in self.started:
            if p.poll() is None:
                p.kill()  # SIGKILL also ends a SIGSTOPped process
        for p in self.started:
            p.wait()
        for proxy in self.proxies:
            proxy.listener.close()  # its connections died with the workers

    def cleanup(self, keep_logs=None):
        """Kills every process started, copies the logs to `keep_logs` if given, removes the
        temp dir."""
        self.stop()
        if keep_logs:
            shutil.copytree(self.logs, keep_logs, dirs_exist_ok=True)
            print(f"soak: logs kept in {keep_logs}")
        shutil.rmtree(self.tmp, ignore_errors=True)
