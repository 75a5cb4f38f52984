"""The client side of scripts/multihost.sh, run on its "lab" host (a network namespace).

    multihost.py bucket S3_URL BUCKET      create the bucket on the S3 host (moto)
    multihost.py run --base URL --key KEY --s3 URL --bucket B --bin SHAPLAB --work DIR
                     --fixtures DIR --kill-ns NS --switch NS --kill-link LINK

`run` uploads three models with thousands of (distinct) rows each, submits a job per model,
waits until both worker hosts have claimed chunks, then kills the w1 host mid-job: kill -9 of
every process in its namespace and its switch port down, as a machine losing power. It then
waits (bounded) for every job to end, compares each SHAP CSV download with `shaplab explain`
on the same files (numerically, 1e-9 relative), lists the bucket, and prints the report.
Exit status 0 only when everything passed.

Needs boto3 (the .venv that moto[server] is installed in); the rest is the standard library.
"""

import argparse
import csv
import io
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from upload_form import multipart

# (name, fixture, model file, rows, job options, the same options for `shaplab explain`),
# in submit order: the queue is first in, first out, so the two short jobs run on both hosts
# first and the long last one is the job w1 dies in. Multi-output and interventional jobs are
# there because their chunks are shaped differently (several columns per feature; CHUNK_ROWS
# scaled down by the background size). The tables pass 5 MiB, so uploads reach S3 in parts.
JOBS = [
    ("xgb-multiclass", "xgb_multi_d4", "model.json", 40_000,
     {"output": "raw"}, ["--output", "raw"]),
    ("xgb-interventional", "xgb_binary_d6", "model.json", 12_000,
     {"output": "probability", "background_rows": 20},
     ["--output", "probability", "--background-rows", "20"]),
    ("lgb-binary", "lgb_binary_d8", "model.txt", 40_000,
     {"output": "raw"}, ["--output", "raw"]),
]
# A job's values may differ from the CLI's by this much, relative (absolute near zero).
REL_TOL, ABS_TOL = 1e-9, 1e-12
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CLAIMED = re.compile(r"claimed task=(\S+)")
REAPED = re.compile(r"reaped expired leases requeued=(\d+) lost=(\d+)")
TERMINAL = ("succeeded", "failed", "cancelled")


def s3_client(url):
    import boto3  # only in .venv (moto[server] brings it)
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="multihost", aws_secret_access_key="multihost-secret",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 3}))


def make_bucket(url, bucket):
    s3_client(url).create_bucket(Bucket=bucket)


class Api:
    def __init__(self, base, key):
        self.base, self.auth = base, {"Authorization": f"Bearer {key}"}

    def call(self, path, body=None, headers=None, method=None, timeout=60):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={**self.auth, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def upload(self, kind, name, content):
        body, headers = multipart(kind, name, content)
        status, answer = self.call("/api/uploads", body, headers)
        if status != 201:
            raise SystemExit(f"FAIL: upload of {name} answered {status}: {answer[:300]!r}")
        return json.loads(answer)["id"]

    def job(self, job_id):
        status, answer = self.call(f"/api/jobs/{job_id}")
        return json.loads(answer) if status == 200 else {"state": f"http {status}"}


def grow(source, rows, dest):
    """The fixture's rows repeated up to `rows`, every number jittered by a seeded ±5 %, so no
    two rows are equal: a chunk written at the wrong offset would then show in the comparison."""
    with open(source, newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    rng = random.Random(20240601)
    with open(dest, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for i in range(rows):
            out.writerow([c if c == "" else f"{float(c) * (1 + rng.uniform(-0.05, 0.05)):.9g}"
                          for c in body[i % len(body)]])


def claims(log):
    """Task ids a worker host claimed, in order, from its log ("claimed" debug lines)."""
    try:
        with open(log, errors="replace") as f:
            text = ANSI.sub("", f.read())
    except FileNotFoundError:
        return [], []
    return CLAIMED.findall(text), [tuple(map(int, m)) for m in REAPED.findall(text)]


def kill_host(ns, switch, link):
    """The w1 machine loses power: every process in its namespace gets SIGKILL (no graceful
    release of its lease), and its switch port goes down so nothing half-sent gets through."""
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                          check=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "-n", switch, "link", "set", link, "down"], check=True)
    return len(pids)


def read_csv(data):
    rows = list(csv.reader(io.StringIO(data.decode())))
    return rows[0], rows[1:]


def compare(served, cli):
    """None when the two SHAP CSVs agree (same header, same rows, every value within
    REL_TOL), else what differs first."""
    (h1, r1), (h2, r2) = read_csv(served), read_csv(cli)
    if h1 != h2:
        return f"headers differ: {h1[:4]}… vs {h2[:4]}…"
    if len(r1) != len(r2):
        return f"{len(r1)} rows downloaded, the CLI wrote {len(r2)}"
    worst = 0.0
    for i, (a, b) in enumerate(zip(r1, r2)):
        if len(a) != len(b):
            return f"row {i}: {len(a)} vs {len(b)} columns"
        for j, (x, y) in enumerate(zip(a, b)):
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                return f"row {i} column {h1[j]}: {x!r} vs {y!r}"
            if not math.isclose(fx, fy, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                return f"row {i} column {h1[j]}: {x} vs {y}"
            worst = max(worst, abs(fx - fy) / max(abs(fx), abs(fy)))
    return None if worst <= REL_TOL else f"relative difference {worst:g}"


def run(a):
    t0 = time.monotonic()
    api = Api(a.base, a.key)
    inputs = os.path.join(a.work, "lab")
    logs = os.path.join(a.work, "logs")
    failures = []

    # Arrange: inputs and uploads, then every job submitted at once.
    jobs = []
    for name, fixture, model_file, rows, options, cli_options in JOBS:
        model = os.path.join(a.fixtures, fixture, model_file)
        data = os.path.join(inputs, f"{name}.csv")
        grow(os.path.join(a.fixtures, fixture, "data.csv"), rows, data)
        with open(model, "rb") as f:
            model_id = api.upload("model", model_file, f.read())
        with open(data, "rb") as f:
            data_id = api.upload("data", f"{name}.csv", f.read())
        jobs.append({"name": name, "model": model, "data": data, "cli": cli_options,
                     "rows": rows, "uploads": (model_id, data_id), "options": options})
    uploaded = time.monotonic() - t0
    for j in jobs:
        body = json.dumps({"model": j["uploads"][0], "data": j["uploads"][1], **j["options"]})
        status, answer = api.call("/api/jobs", body.encode(), {"Content-Type": "application/json"})
        if status not in (200, 201):
            raise SystemExit(f"FAIL: submit of {j['name']} answered {status}: {answer[:300]!r}")
        j["id"] = json.loads(answer)["id"]
    sizes = ", ".join(f"{os.path.getsize(j['data']) / 2**20:.1f}" for j in jobs)
    print(f"uploaded 3 models and 3 tables ({sizes} MiB) in {uploaded:.1f} s; "
          f"{len(jobs)} jobs submitted")

    # Act: once both hosts have run chunks of every job, kill w1 just after it claims its next
    # chunk of the last one, so it dies in the middle of computing it.
    def jobs_of(tasks):
        return {t.rsplit(":", 1)[0] for t in tasks}
    every = {j["id"] for j in jobs}
    deadline, seen = time.monotonic() + 45, None
    while True:
        w1, _ = claims(os.path.join(logs, "w1.log"))
        w2, _ = claims(os.path.join(logs, "w2.log"))
        if every <= jobs_of(w1) and every <= jobs_of(w2):
            if seen is not None and len(w1) > seen:
                break
            seen = len(w1)
        if time.monotonic() > deadline:
            raise SystemExit(f"FAIL: within 45 s w1 claimed chunks of {len(jobs_of(w1))} jobs "
                             f"and w2 of {len(jobs_of(w2))}, not all {len(every)} on both")
        time.sleep(0.02)
    killed = kill_host(a.kill_ns, a.switch, a.kill_link)
    t_kill = time.monotonic()
    w1_claims, _ = claims(os.path.join(logs, "w1.log"))
    in_flight = w1_claims[-1]
    states = {j["name"]: api.job(j["id"])["state"] for j in jobs}
    print(f"w1 killed {t_kill - t0:.1f} s after start (SIGKILL to its {killed} process(es), "
          f"link down) while holding chunk {in_flight}; job states then: {states}")

    # The CLI's answers, computed meanwhile on one core (w2 needs the other).
    def explain_all():
        for j in jobs:
            out = os.path.join(inputs, f"{j['name']}.cli.csv")
            done = subprocess.run([a.bin, "explain", "--model", j["model"], "--data", j["data"],
                                   "--out", out, "--threads", "1", *j["cli"]],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                j["cli_out"] = out
            else:
                failures.append(f"shaplab explain on {j['name']}: {done.stderr.strip()[-300:]}")
    cli = threading.Thread(target=explain_all)
    cli.start()

    # Every job must end, and succeed, although one chunk's lease holder is gone: the lease
    # (30 s, not settable by env) expires and w2's reaper hands the chunk to w2.
    deadline = time.monotonic() + 70
    pending = {j["id"]: j for j in jobs if states[j["name"]] not in TERMINAL}
    for j in jobs:
        if j["id"] not in pending:
            j["view"] = api.job(j["id"])
    while pending and time.monotonic() < deadline:
        for job_id, j in list(pending.items()):
            view = api.job(job_id)
            if view["state"] in TERMINAL:
                j["view"], j["done_after_kill"] = view, time.monotonic() - t_kill
                del pending[job_id]
        time.sleep(0.25)
    for j in pending.values():
        j["view"] = api.job(j["id"])
        failures.append(f"job {j['name']} still {j['view'].get('state')} 70 s after the kill")
    cli.join()

    # Assert: results equal the CLI's.
    print(f"\n{'job':<20} {'state':<10} {'rows':>6} {'chunks':>6} {'done after kill':>15}  "
          "SHAP CSV vs shaplab explain")
    for j in jobs:
        view = j["view"]
        verdict = "-"
        if view.get("state") == "succeeded" and "cli_out" in j:
            status, served = api.call(f"/api/jobs/{j['id']}/shap.csv", timeout=120)
            with open(j["cli_out"], "rb") as f:
                wanted = f.read()
            if status != 200:
                verdict = f"download answered {status}"
            else:
                verdict = compare(served, wanted) or (
                    "equal (byte-identical)" if served == wanted else "equal within 1e-9")
            if not verdict.startswith("equal"):
                failures.append(f"job {j['name']}: {verdict}")
        elif view.get("state") != "succeeded":
            failures.append(f"job {j['name']} ended {view.get('state')}: {view.get('error')}")
        progress = view.get("progress", {})
        after = (f"{j['done_after_kill']:.1f} s" if "done_after_kill" in j
                 else "(before)" if states[j["name"]] in TERMINAL else "-")
        print(f"{j['name']:<20} {view.get('state', '?'):<10} {j['rows']:>6} "
              f"{progress.get('chunks_total', '?'):>6} {after:>15}  {verdict}")

    # Who ran what: "claimed" lines per host; chunks w1 held that w2 ran again after the kill.
    w1_claims, _ = claims(os.path.join(logs, "w1.log"))
    w2_claims, reaped = claims(os.path.join(logs, "w2.log"))
    rerun = sorted(set(w1_claims) & set(w2_claims))
    ours = {j["id"] for j in jobs}
    print("\nchunks claimed per worker host:")
    for host, got in (("w1", w1_claims), ("w2", w2_claims)):
        per_job = {j["name"]: sum(1 for t in got if t.rsplit(":", 1)[0] == j["id"]) for j in jobs}
        print(f"  {host}: {len(got):>3}  {per_job}")
    requeued, lost = sum(r for r, _ in reaped), sum(n for _, n in reaped)
    print(f"  chunks w1 held when it died, run again on w2: {rerun or 'none'}; "
          f"w2's reaper: {requeued} lease(s) requeued, {lost} lost")
    if not w1_claims or not w2_claims:
        failures.append("a worker host ran no chunk")
    if in_flight not in rerun:
        failures.append(f"chunk {in_flight}, in flight on w1 at the kill, was not run again on w2")
    if any(t.rsplit(":", 1)[0] not in ours for t in w1_claims + w2_claims):
        failures.append("a worker claimed a task of a job this run did not submit")
    if done := [j["done_after_kill"] for j in jobs if "done_after_kill" in j]:
        print(f"time from the kill to the last job's completion: {max(done):.1f} s "
              "(bounded below by the 30-s lease, which no env var shortens)")

    # The blobs really are in the bucket, and nothing fell back to a local directory.
    listing = []
    for page in s3_client(a.s3).get_paginator("list_objects_v2").paginate(Bucket=a.bucket):
        listing += page.get("Contents", [])
    keys = [o["Key"] for o in listing]
    chunk_blobs = [k for k in keys if k.startswith("jobs/") and "/rows-" in k]
    expected_chunks = sum(j["view"].get("progress", {}).get("chunks_total", 0) for j in jobs)
    by_top = {}
    for o in listing:
        top = o["Key"].split("/", 1)[0]
        n, size = by_top.get(top, (0, 0))
        by_top[top] = (n + 1, size + o["Size"])
    print(f"\nobjects in s3://{a.bucket}: {len(keys)} "
          + ", ".join(f"{t}/: {n} ({s / 2**20:.1f} MiB)" for t, (n, s) in sorted(by_top.items()))
          + f"; chunk result blobs {len(chunk_blobs)} of {expected_chunks} chunks")
    if len(chunk_blobs) != expected_chunks:
        failures.append(f"{len(chunk_blobs)} chunk blobs in the bucket, {expected_chunks} chunks")
    for j in jobs:
        for upload in j["uploads"]:
            if not any(k.startswith(f"uploads/{upload}/") for k in keys):
                failures.append(f"upload {upload} of {j['name']} is not in the bucket")
    for host in ("web", "w1", "w2"):
        if os.path.exists(os.path.join(a.work, host, "blobs")):
            failures.append(f"{host} wrote blobs to a local directory")

    print(f"\nwall time of the client: {time.monotonic() - t0:.1f} s")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("PASS: every job succeeded across hosts despite the killed host; "
          "results equal the CLI's; blobs live in S3")
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "bucket":
        return make_bucket(sys.argv[2], sys.argv[3])
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["run"])
    for flag in ("base", "key", "s3", "bucket", "bin", "work", "fixtures", "kill-ns", "switch",
                 "kill-link"):
        p.add_argument(f"--{flag}", required=True)
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
