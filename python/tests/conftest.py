"""A real shaplab server for the client's tests: its own redis-server and `shaplab serve`
(sign-in on, one worker) on free loopback ports, an account and an API key made with the
CLI. Stopped when the session ends. The binary is $SHAPLAB_BIN or target/debug/shaplab."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # plots in tests draw off-screen

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SHAPLAB_BIN", str(ROOT / "target" / "debug" / "shaplab"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


class Server:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.redis_port), 0.2), 10, "redis")
        self.env = dict(os.environ, REDIS_URL=self.redis_url, SHAPLAB_AUTH="users",
                        SHAPLAB_WORKERS="1", SHAPLAB_DATA_DIR=str(tmp / "data"), CHUNK_ROWS="100",
                        SHAPLAB_LOG="warn")
        self.cli(["user", "add", "ana"], "a long password for ana\n")
        self.api_key = self.cli(["key", "create", "--user", "ana", "--label", "pytest"]).strip()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "server.log", "wb")
        self.server = subprocess.Popen([BIN, "serve", "--port", str(self.port)], env=self.env,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200,
                 60, f"shaplab serve (log: {tmp / 'server.log'})")

    def cli(self, args, stdin: str = "") -> str:
        done = subprocess.run([BIN, *args], input=stdin, env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def pause_redis(self, seconds: float) -> None:
        """SIGSTOP then SIGCONT: Redis hangs (no answers, sockets open), as in a stall."""
        os.kill(self.redis.pid, 19)
        time.sleep(seconds)
        os.kill(self.redis.pid, 18)

    def stop(self) -> None:
        for process in (self.server, self.redis):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def server():
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} is missing: build it with `cargo build -p server` (make test does)")
    tmp = Path(tempfile.mkdtemp(prefix="shaplab-pytest-"))
    running = Server(tmp)
    yield running
    running.stop()
    shutil.rmtree(tmp, ignore_errors=True)
