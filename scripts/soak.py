"""Chaos soak of the scale-out setup on loopback, with the real binaries: redis-server (AOF,
`appendfsync always`), `shaplab serve --workers 0` and three `shaplab worker` processes, each
worker reaching Redis through its own fault-injecting TCP proxy run here. While hundreds of
small jobs are submitted (Idempotency-Key, retried through outages), seeded faults hit one at
a time: worker or Redis kill -9 + restart (Redis on its AOF), worker or Redis SIGSTOP/SIGCONT,
one worker's Redis traffic blackholed. Then every job must succeed with the SHAP values of
`shaplab explain` (the CLI, no Redis) on the same inputs.

Why: QUEUE.md's bar (no accepted job lost, one result per chunk, workers consuming again after
every outage) checked end to end, as a figure an operator can quote. Prints the seed (`--seed`
replays the faults' kinds, targets, lengths and gaps, not their interleaving with the work), a
line per fault, then the table; exits 1 if a job is lost, a value differs, a submit doubled or
a process crashed (2 if one was signalled from outside the soak: rerun).

Bounded: M minutes of faults, then at most --drain s (default 180) for the jobs to end;
loopback only; kills every process it started and removes its temp dir on exit, Ctrl-C and
failure included (--keep-logs DIR copies the logs out first).

This file is the soak's plan and verdict: job submission, the fault schedule, verification
against `shaplab explain` and the report. The processes, the proxies and the signals that hurt
them are in scripts/soak_procs.py.

    scripts/soak.sh [--minutes M] [--seed S] [--rate JOBS_PER_S] [--keep-logs DIR]
"""

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

# soak.sh runs `python3 scripts/soak.py`; the script's own dir makes soak_procs importable from
# any working directory and under `python3 -P` (which leaves it off sys.path).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_procs import (ANSI, CHUNK_ROWS, WORKERS, System,  # noqa: E402
                        exit_on_signals, http, redis_cli, wait_until)
from upload_form import multipart  # noqa: E402

# A LightGBM regressor, an XGBoost binary classifier and an XGBoost multiclass model (several
# outputs per row): chunks of different shapes. 60 rows each, so 6 chunks per job.
FIXTURES = [("lgb_reg_d3", "model.txt"), ("xgb_binary_d6", "model.json"),
            ("xgb_multi_d4", "model.json")]
PREFIX = "{shaplab:p0}:"  # QUEUE_PARTITIONS=1: every queue key (server/src/queue/keys.rs)
TASK = re.compile(r"task=(\S+)")
KINDS = ["worker_kill", "redis_kill", "worker_stop", "redis_stop", "blackhole"]
LENGTH = {"worker_kill": (0.5, 3), "redis_kill": (0.5, 3), "worker_stop": (3, 20),
          "redis_stop": (2, 5), "blackhole": (5, 20)}  # seconds down / paused / cut off
MEANING = {"worker_kill": "restart -> first chunk finished by the new process",
           "redis_kill": "restart -> every worker finished a chunk again",
           "worker_stop": "SIGCONT -> next chunk finished by that worker",
           "redis_stop": "SIGCONT -> every worker finished a chunk again",
           "blackhole": "proxy passes again -> next chunk finished by that worker"}
BAR_S = 5  # QUEUE.md bar 19: all workers consuming again within 5 s of a Redis restart

# Everything the report reads from Redis, in one script (so one consistent moment): jobs'
# idempotency keys, each task's state / claims / stalls / finish, the queue's counters.
RECORDS = """
local p, out = ARGV[1], {jobs = {}, tasks = {}}
for _, k in ipairs(redis.call('KEYS', p .. 'job:*')) do
  out.jobs[#out.jobs + 1] = redis.call('HGET', k, 'idempotency_key')
end
for _, k in ipairs(redis.call('KEYS', p .. 'task:*')) do
  out.tasks[#out.tasks + 1] = redis.call('HMGET', k, 'state', 'attempts', 'stalls',
    'finished_ms', 'worker')
end
out.stats = redis.call('HGETALL', p .. 'stats')
out.graces = redis.call('HGET', p .. 'reaper', 'graces')
out.left = {redis.call('LLEN', p .. 'ready'), redis.call('ZCARD', p .. 'leased'),
  redis.call('ZCARD', p .. 'scheduled'), redis.call('ZCARD', p .. 'dead')}
return cjson.encode(out)
"""


# --- the API ----------------------------------------------------------------------------

class Submitter:
    """Submits job n at t0 + n/rate from a few threads (one submit retrying through an outage
    does not hold up the rest), each with its own uploads and Idempotency-Key
    `soak-<seed>-<n>`. A submit without an answer (503, no connection) is retried with the
    same key until the deadline; an answered one is sent once more with the same key on
    purpose, which must name the same job. Every job id a key is answered with is kept."""

    def __init__(self, base, seed, rate):
        self.base, self.seed, self.rate = base, seed, rate
        self.jobs, self.lock, self.stopping = [], threading.Lock(), threading.Event()
        self.deadline, self.next, self.unanswered, self.odd = math.inf, 0, 0, {}

    def start(self, threads=4):
        self.t0 = time.time()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.stopping.is_set():
            with self.lock:
                n, self.next = self.next, self.next + 1
            if self.stopping.wait(max(0.0, self.t0 + n / self.rate - time.time())):
                return
            self._one(n)

    def _answer(self, call, what):
        """Calls until a 2xx or a 4xx other than 429; (status, body), or None past the deadline."""
        while time.time() < self.deadline:
            status, body, headers = call()
            if 200 <= status < 300 or (400 <= status < 500 and status != 429):
                return status, body
            with self.lock:
                self.unanswered += 1
                if status not in (0, 503):  # e.g. a 500: nothing a Redis outage does may cause
                    self.odd[f"{what} {status}"] = self.odd.get(f"{what} {status}", 0) + 1
            # Retry-After is whole seconds; retrying sooner shows how soon submits work again.
            time.sleep(min(float(headers.get("Retry-After") or 0.25), 0.5))
        return None

    def _one(self, n):
        name, model_file = FIXTURES[n % len(FIXTURES)]
        job = {"fixture": name, "key": f"soak-{self.seed}-{n}", "ids": set()}
        with self.lock:
            self.jobs.append(job)
        ids = []
        for kind, file in (("model", model_file), ("data", "data.csv")):
            content = (Path("fixtures") / name / file).read_bytes()
            answer = self._answer(lambda: http(self.base, "/api/uploads",
                                               *multipart(kind, file, content)), "upload")
            if not answer or answer[0] != 201:
                job["error"] = f"upload of the {kind}: {answer}"
                return
            ids.append(json.loads(answer[1])["id"])
        body = json.dumps({"model": ids[0], "data": ids[1]}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": job["key"]}
        for _ in range(2):
            answer = self._answer(lambda: http(self.base, "/api/jobs", body, headers), "submit")
            if not answer or answer[0] not in (200, 201):
                job["error"] = f"submit: {answer}"
                return
            job["ids"].add(json.loads(answer[1])["id"])

    def stop(self, deadline):
        self.deadline = deadline
        self.stopping.set()
        for t in self.threads:
            t.join(max(0.0, deadline - time.time()))


# --- faults -----------------------------------------------------------------------------

def inject(system, rng, until, probe, t0):
    """One fault at a time until `until`: kinds from shuffled rounds of all five (each kind
    once in every five faults), a random target and length; then, once the workers claim
    again, a gap for the work to go on."""
    faults, bag = [], []
    time.sleep(rng.uniform(3, 6))
    while time.time() < until:
        if not bag:
            bag = KINDS[:]
            rng.shuffle(bag)
        kind, slot = bag.pop(), rng.randrange(WORKERS)
        length, gap = rng.uniform(*LENGTH[kind]), rng.uniform(2, 5)
        on_redis = kind.startswith("redis")
        f = {"kind": kind, "slot": None if on_redis else slot, "start": time.time()}
        system.fault(kind, slot, length)
        f["end"] = time.time()
        marks = [system.log_mark(s) for s in (range(WORKERS) if on_redis else [slot])]
        # Until the API reads a job from Redis again (/healthz never touches Redis).
        if on_redis and (job := probe()):
            f["api"] = wait_until(lambda: http(system.base, f"/api/jobs/{job}", timeout=2)[0]
                                  == 200, 60)
        # The next fault waits until the workers hit claim again (bounded), so that one
        # fault's recovery is not measured across the next.
        claimed = wait_until(lambda: all(map(system.claimed_since, marks)), 60) is not None
        claim = time.time() - f["end"] if claimed else None
        faults.append(f)
        system.check()
        api = f", API answers after {f['api']:.2f} s" if f.get("api") is not None else ""
        target = "redis" if f["slot"] is None else f"worker{slot}"
        print(f"[{time.time() - t0:6.1f}s] fault {len(faults)}: {kind} {target} for "
              f"{f['end'] - f['start']:.1f} s (all claiming again after {secs(claim)} s{api})",
              flush=True)
        time.sleep(gap)
    return faults


def work_recovery(f, finishes, pids):
    """Seconds from the fault's end until work resumed (see MEANING), from each chunk's finish
    time and finishing worker as Redis recorded them; None if it never did."""
    def first_after(slot):
        times = [t for t, pid in finishes if pid in pids[slot] and t > f["end"]]
        return min(times) - f["end"] if times else None
    each = [first_after(s) for s in ([f["slot"]] if f["slot"] is not None else range(WORKERS))]
    return None if None in each else max(each)


# --- the end: verify, read Redis's records, report --------------------------------------

def drain(base, pending, deadline):
    """Polls the jobs until each has ended or the deadline passed; those still running."""
    def ended(job):
        status, body, _ = http(base, f"/api/jobs/{job}")
        return status == 200 and json.loads(body)["state"] in ("succeeded", "failed",
                                                               "cancelled")

    def all_ended():
        pending.difference_update([job for job in list(pending) if ended(job)])
        return not pending
    wait_until(all_ended, deadline - time.time(), every=0.5)
    return pending


def references(binary, tmp):
    """`shaplab explain` once per fixture: the values every job must reproduce."""
    refs = {}
    for name, model_file in FIXTURES:
        out = tmp / f"ref-{name}.csv"
        subprocess.run([binary, "explain", "--model", f"fixtures/{name}/{model_file}",
                        "--data", f"fixtures/{name}/data.csv", "--out", str(out),
                        "--threads", "1"], check=True, capture_output=True)
        refs[name] = out.read_bytes()
    return refs


def same_values(got, want):
    """Same header and shape; every value the same text or within 1e-9 relative (so a NaN
    only matches a NaN)."""
    def close(ta, tb):
        x, y = float(ta), float(tb)
        return ta == tb or abs(x - y) <= 1e-9 * max(abs(x), abs(y))
    a, b = got.decode().splitlines(), want.decode().splitlines()
    return len(a) == len(b) and a[:1] == b[:1] and all(
        len(xa) == len(xb) and all(map(close, xa, xb))
        for xa, xb in ((la.split(","), lb.split(",")) for la, lb in zip(a[1:], b[1:])))


def verify(base, jobs, refs):
    lost, bad, ok, identical = [], [], 0, 0
    for j in jobs:
        job = min(j["ids"])
        status, body, _ = http(base, f"/api/jobs/{job}")
        state = json.loads(body).get("state") if status == 200 else f"HTTP {status}"
        if state != "succeeded":
            lost.append(f"LOST job {job} ({j['fixture']}, key {j['key']}): {state} "
                        f"{body[:300].decode(errors='replace')}")
            continue
        status, csv, _ = http(base, f"/api/jobs/{job}/shap.csv", timeout=30)
        if status != 200 or not same_values(csv, refs[j["fixture"]]):
            bad.append(f"WRONG values: job {job} ({j['fixture']}), download HTTP {status}")
            continue
        ok, identical = ok + 1, identical + (csv == refs[j["fixture"]])
    return lost, bad, ok, identical


def claims_received(logs):
    """Task id -> times a worker received it from a claim and began computing it (the debug
    line "claimed"; a killed worker's lines are on disk already, each written at once)."""
    return Counter(m.group(1) for path in logs.glob("worker*.log")
                   for line in path.read_text(errors="replace").splitlines()
                   if " claimed " in line and (m := TASK.search(ANSI.sub("", line))))


def pct(values, q):
    """Nearest-rank percentile (q=1: the max), ignoring Nones."""
    values = sorted(v for v in values if v is not None)
    return values[max(0, math.ceil(q * len(values)) - 1)] if values else None


def secs(v):
    return "n/a" if v is None else f"{v:.2f}"


def report(args, sub, faults, system, refs, t0):
    jobs = [j for j in sub.jobs if j["ids"]]
    lost, bad, ok, identical = verify(system.base, jobs, refs)
    lost += [f"LOST submit {j['key']} ({j['fixture']}): {j.get('error', 'no answer')}"
             for j in sub.jobs if not j["ids"]]
    rec = json.loads(redis_cli(system.redis_port, "EVAL", RECORDS, "0", PREFIX))
    dups = [f"DUPLICATE: idempotency key {k} has {n} jobs in Redis"
            for k, n in Counter(rec["jobs"]).items() if n > 1]
    dups += [f"DUPLICATE: key {j['key']} answered with jobs {sorted(j['ids'])}"
             for j in jobs if len(j["ids"]) > 1]
    # [state, attempts, stalls, finished_ms, worker]; a missing field comes as false.
    tasks = [[v or 0 for v in t] for t in rec["tasks"]]
    received = claims_received(system.logs)
    claims, stalls = sum(int(t[1]) for t in tasks), sum(int(t[2]) for t in tasks)
    stats = dict(zip(rec["stats"][::2], rec["stats"][1::2]))
    # Who finished each chunk and when: worker ids are w-<pid>-..., times Redis's clock.
    finishes = [(int(t[3]) / 1000, int(t[4].split("-")[1])) for t in tasks if t[3] and t[4]]
    print(f"\nshaplab chaos soak: seed {args.seed}, {args.minutes} min of faults, {WORKERS} "
          f"workers, {CHUNK_ROWS} rows per chunk, {args.rate} jobs/s, "
          f"{time.time() - t0:.0f} s in all")
    for name, value, note in [
        ("jobs submitted (accepted)", len(jobs), f"{len(FIXTURES)} fixture families; "
         f"{sub.unanswered} upload/submit attempts unanswered (503, no connection), retried"),
        ("jobs succeeded, values = explain", ok,
         f"within 1e-9 relative; {identical} files byte-identical"),
        ("jobs lost", len(lost), "accepted but not succeeded by the deadline"),
        ("jobs with wrong values", len(bad), "SHAP CSV differs from `shaplab explain`"),
        ("duplicated submissions", len(dups), "idempotency keys with more than one job in "
         "Redis or answered with two ids (each key is sent twice on purpose)"),
        ("chunk tasks", len(tasks), f"{sum(t[0] != 'done' for t in tasks)} not done; left "
         f"in ready/leased/scheduled/dead: {'/'.join(map(str, rec['left']))}"),
        ("duplicated chunk executions", sum(max(0, n - 1) for n in received.values()),
         "a worker began computing a chunk again (workers' 'claimed' log lines per task - 1)"),
        ("  claims whose reply was lost", claims - sum(received.values()), "claims Redis "
         "recorded (task `attempts`) that no worker received: the chunk waits out a lease"),
        ("  lease expiries", stalls, f"task `stalls`: leases the reaper took back "
         f"({rec['graces'] or 0} post-outage grace periods started)"),
        ("  late results fenced off", int(stats.get("stale_writes", 0)), "`stale_writes`: "
         "writes refused for an outdated fencing token"),
    ]:
        print(f"  {name:<34}{value:>6}   {note}")
    pids = {s: {p for p, k in system.slot_of_pid.items() if k == s} for s in range(WORKERS)}
    print(f"\n  {'fault':<12}{'count':>6}{'length p50':>11}{'recovery p50':>13}{'max':>7}"
          f"{'API p50':>9}{'max':>7}   recovery = fault end ->")
    slow = []
    for kind in KINDS:
        fs = [f for f in faults if f["kind"] == kind]
        back = [work_recovery(f, finishes, pids) for f in fs]
        api = [f.get("api") for f in fs]
        never = sum(r is None for r in back)
        if kind.startswith("redis") and any(r is None or r > BAR_S for r in back):
            slow.append(f"{kind} {secs(pct(back, 1))} s")
        print(f"  {kind:<12}{len(fs):>6}{secs(pct([f['end'] - f['start'] for f in fs], .5)):>11}"
              f"{secs(pct(back, .5)):>13}{secs(pct(back, 1)):>7}{secs(pct(api, .5)):>9}"
              f"{secs(pct(api, 1)):>7}   {MEANING[kind]}" + (f" ({never} never)" if never else ""))
    print(f"  (seconds; API = a job's status read from Redis again; recovery includes waiting "
          f"for the next job, up to {1 / args.rate:.2f} s)")
    if slow:
        print(f"  NOTE: above QUEUE.md bar 19 (all workers consuming within {BAR_S} s of a Redis "
              f"restart): {', '.join(slow)} at worst")
    if sub.odd:
        print(f"  unexpected answers, retried: {sub.odd}")
    for line in (lost + bad + dups)[:20]:
        print(line)
    failed = lost or bad or dups
    print(("FAIL" if failed else "PASS") + f" (seed {args.seed})")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2, help="minutes of fault injection")
    ap.add_argument("--seed", type=int, default=random.SystemRandom().randrange(1, 10**9))
    ap.add_argument("--rate", type=float, default=3, help="jobs submitted per second")
    ap.add_argument("--drain", type=float, default=180, help="most seconds for jobs to end")
    ap.add_argument("--bin", default=os.environ.get("SHAPLAB_BIN", "target/debug/shaplab"))
    ap.add_argument("--keep-logs", type=Path, help="copy the processes' logs here on exit")
    args = ap.parse_args()
    print(f"soak: seed {args.seed} (rerun: scripts/soak.sh --minutes {args.minutes} "
          f"--seed {args.seed})", flush=True)
    binary = str(Path(args.bin).resolve())
    system = System(binary)
    exit_on_signals()  # SIGINT, SIGTERM, SIGHUP: through the `finally` below
    try:
        t0 = time.time()
        refs = references(binary, system.tmp)
        system.start()
        sub = Submitter(system.base, args.seed, args.rate)
        sub.start()
        print(f"[{time.time() - t0:6.1f}s] redis :{system.redis_port}, serve :{system.port}, "
              f"workers via proxies {[p.port for p in system.proxies]}", flush=True)
        probe = lambda: next((min(j["ids"]) for j in list(sub.jobs) if j["ids"]), None)
        faults = inject(system, random.Random(args.seed), time.time() + 60 * args.minutes,
                        probe, t0)
        deadline = time.time() + args.drain
        sub.stop(deadline)
        print(f"[{time.time() - t0:6.1f}s] faults over; {len(sub.jobs)} jobs submitted; "
              f"draining (at most {args.drain:.0f} s)", flush=True)
        pending = drain(system.base, {min(j["ids"]) for j in sub.jobs if j["ids"]}, deadline)
        print(f"[{time.time() - t0:6.1f}s] drained ({len(pending)} jobs unfinished); verifying",
              flush=True)
        system.check()
        return report(args, sub, faults, system, refs, t0)
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return 130
    finally:
        system.cleanup(args.keep_logs)


if __name__ == "__main__":
    sys.exit(main())
