#!/usr/bin/env python3
"""Crash campaign: submissions while `tug server` replicas are killed with SIGKILL and restarted.

N replicas share one store (SQLite: one replica, since SQLite is one server's store; PostgreSQL:
a throwaway server from tug-pg-temp) and one data directory, as on one host. Clients submit runs
of a job that appends its attempt id to a file and then sleeps; meanwhile a killer kills a random
replica with SIGKILL at random moments and restarts it. When every run has ended it checks:

  lost        runs acknowledged (201) that are missing or did not SUCCEED          must be 0
  twice       attempts whose job started more than once (the file says so)         must be 0
  unknown     jobs started for attempts the store does not know                     must be 0

and reports LOST attempts (retried by the planner), the time each restarted replica took to
serve again (reconcile included), the longest pause between two job starts (how long launching
stalled around a kill), and the launch rate. Exit status 1 when a check fails.

  scripts/chaos.py --tug build/dev/tug [--store sqlite|postgres] [--runs 1000] [--kills 8]
Used by the `chaos` ctest label (tests/CMakeLists.txt) and by bench/launch_bench.sh.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone

TERMINAL = ("SUCCEEDED", "FAILED", "LOST", "STOPPED")


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def call(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        text = r.read()
        return r.status, (json.loads(text) if text else None)
    finally:
        conn.close()


class Replica:
    def __init__(self, index, args, env, data):
        self.index, self.args, self.env, self.data = index, args, env, data
        self.proc, self.port = None, None
        self.lock = threading.Lock()

    def start(self):
        """Starts the server; returns the seconds until it listened (after its reconcile)."""
        t0 = time.time()
        log = open(os.path.join(self.data, f"server-{self.index}.log"), "ab")
        proc = subprocess.Popen([self.args.tug, "server", "--listen", "127.0.0.1:0",
                                 "--data-dir", self.data], env=self.env,
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        line = proc.stdout.readline().decode()
        at = line.find("http://127.0.0.1:")
        if at < 0:
            proc.kill()
            raise SystemExit(f"replica {self.index} did not start: {line!r}; see {self.data}")
        port = int(line[at + len("http://127.0.0.1:"):].split()[0].strip("/"))
        # Drain stdout so the server never blocks on a full pipe.
        threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
        with self.lock:
            self.proc, self.port = proc, port
        return time.time() - t0

    def kill(self):
        with self.lock:
            proc, self.proc, self.port = self.proc, None, None
        if proc:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self):
        with self.lock:
            proc, self.proc, self.port = self.proc, None, None
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def live_port(self):
        with self.lock:
            return self.port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tug", required=True, help="the tug binary (tug-shim beside it)")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-temp", help="tug-pg-temp binary (default: beside --tug)")
    ap.add_argument("--replicas", type=int, help="default: 1 on SQLite, 2 on PostgreSQL")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rate", type=float, default=100,
                    help="submissions per second in all (0: as fast as the servers take them)")
    ap.add_argument("--kills", type=int, default=8, help="SIGKILLs during the submissions")
    ap.add_argument("--sleep", default="0.2", help="how long each job sleeps (seconds)")
    ap.add_argument("--cgroup", default="auto", help="engine.cgroup for the servers")
    ap.add_argument("--lease", default="10s")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--timeout", type=float, default=900, help="last guard, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args()
    replicas_n = args.replicas or (1 if args.store == "sqlite" else 2)
    if args.store == "sqlite" and replicas_n != 1:
        raise SystemExit("SQLite is one server's store: use --replicas 1 (or --store postgres)")
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="tug-chaos-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    launches = os.path.join(work, "launches.log")
    env = dict(os.environ, TUG_LEASE=args.lease, TUG_CGROUP=args.cgroup, TUG_LOG_LEVEL="info")
    pg = None
    replicas = []
    try:
        if args.store == "postgres":
            pg_temp = args.pg_temp or os.path.join(os.path.dirname(args.tug), "tug-pg-temp")
            pg = subprocess.Popen([pg_temp, "tug"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            url = pg.stdout.readline().decode().strip()
            if not url.startswith("postgres"):
                raise SystemExit(f"tug-pg-temp did not start PostgreSQL: {url!r}")
            env["TUG_DATABASE_URL"] = url
        replicas = [Replica(i, args, env, data) for i in range(replicas_n)]
        for r in replicas:
            r.start()
        port = replicas[0].live_port()
        command = f"echo \"$TUG_ATTEMPT_ID\" >> {launches}"
        if float(args.sleep) > 0:
            command += f"; sleep {args.sleep}"
        status, body = call(port, "PUT", "/api/v1/definitions/chaos",
                            {"name": "chaos", "command": command,
                             "resources": {"memory": "32Mi"}})
        if status >= 300:
            raise SystemExit(f"defining the job failed: {status} {body}")

        acknowledged, unacknowledged = [], [0]
        ack_lock = threading.Lock()
        submitting = threading.Event()
        submitting.set()
        nxt = iter(range(args.runs))
        start = time.time()

        def submitter(seed):
            r = random.Random(seed)
            while True:
                with ack_lock:
                    i = next(nxt, None)
                if i is None:
                    return
                if args.rate > 0:  # submission i is due at start + i / rate
                    time.sleep(max(0.0, start + i / args.rate - time.time()))
                while True:  # until one replica acknowledges this submission
                    live = [p for p in (x.live_port() for x in replicas) if p]
                    if not live:
                        time.sleep(0.01)
                        continue
                    try:
                        status, body = call(r.choice(live), "POST", "/api/v1/runs",
                                            {"definition": "chaos"})
                    except (OSError, http.client.HTTPException):
                        status, body = 0, None
                    if status == 201:
                        with ack_lock:
                            acknowledged.append(body["id"])
                        break
                    # No answer: the run may or may not exist; it is checked with the others.
                    with ack_lock:
                        unacknowledged[0] += 1
                    time.sleep(0.01)

        kills = []  # (replica, killed at, seconds to serve again)

        # The kills fall at random moments over the submissions (the last at their end at most).
        window = args.runs / args.rate if args.rate > 0 else 3.0
        kill_times = sorted(rnd.uniform(0.05, window) for _ in range(args.kills))

        def killer():
            for at in kill_times:
                time.sleep(max(0.0, start + at - time.time()))
                victim = rnd.choice(replicas)
                killed_at = time.time()
                victim.kill()
                time.sleep(rnd.uniform(0, 0.3))
                kills.append((victim.index, killed_at, victim.start()))

        t0 = time.time()
        clients = [threading.Thread(target=submitter, args=(args.seed + i,))
                   for i in range(args.clients)]
        kt = threading.Thread(target=killer)
        for t in clients + [kt]:
            t.start()
        for t in clients:
            t.join()
        submitting.clear()
        kt.join()
        submit_seconds = time.time() - t0

        # Every run in the store (acknowledged or not) must end.
        deadline = time.time() + args.timeout
        runs = {}
        while True:
            port = replicas[0].live_port()
            runs = list_runs(port)
            open_runs = [r for r in runs.values() if r["status"] not in TERMINAL]
            if not open_runs and len(runs) >= len(acknowledged):
                break
            if time.time() > deadline:
                raise SystemExit(f"{len(open_runs)} of {len(runs)} runs did not end within "
                                 f"{args.timeout} s; work dir {work}")
            time.sleep(0.5)
        detail = {rid: call(replicas[0].live_port(), "GET", f"/api/v1/runs/{rid}")[1]
                  for rid in runs}

        starts = {}
        with open(launches) as f:
            for line in f:
                line = line.strip()
                if line:
                    starts[line] = starts.get(line, 0) + 1
        known = {a["id"] for run in detail.values() for a in run["attempts"]}
        lost = [rid for rid in acknowledged
                if rid not in detail or detail[rid]["status"] != "SUCCEEDED"]
        twice = {aid: n for aid, n in starts.items() if n > 1}
        unknown = [aid for aid in starts if aid not in known]
        succeeded_unstarted = [a["id"] for run in detail.values() for a in run["attempts"]
                               if a["status"] == "SUCCEEDED" and a["id"] not in starts]
        lost_attempts = sum(1 for run in detail.values() for a in run["attempts"]
                            if a["status"] == "LOST")
        started = sorted(ts(a["started_at"]) for run in detail.values()
                         for a in run["attempts"] if a.get("started_at"))
        created = min(ts(run["created_at"]) for run in detail.values())
        gaps = [b - a for a, b in zip(started, started[1:])]
        recover = sorted(k[2] for k in kills)
        report = {
            "store": args.store, "replicas": replicas_n, "seed": args.seed,
            "runs_submitted": args.runs, "acknowledged": len(acknowledged),
            "unacknowledged_tries": unacknowledged[0], "runs_in_store": len(detail),
            "kills": len(kills), "lost": len(lost), "attempts_started_twice": len(twice),
            "jobs_for_unknown_attempts": len(unknown),
            "succeeded_without_a_start": len(succeeded_unstarted),
            "lost_attempts_retried": lost_attempts,
            "attempts": len(known),
            "restart_to_serving_s": {"median": recover[len(recover) // 2] if recover else None,
                                     "max": recover[-1] if recover else None},
            "longest_launch_pause_s": max(gaps) if gaps else 0,
            "launch_rate_per_s": len(started) / max(started[-1] - created, 1e-9),
            "submit_seconds": submit_seconds,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"chaos on {args.store}, {replicas_n} replica(s), seed {args.seed}: "
                  f"{report['acknowledged']} runs acknowledged ({report['runs_in_store']} in the "
                  f"store, {report['unacknowledged_tries']} tries without an answer), "
                  f"{report['kills']} SIGKILLs")
            print(f"  lost {report['lost']}, started twice {report['attempts_started_twice']}, "
                  f"jobs for unknown attempts {report['jobs_for_unknown_attempts']}, succeeded "
                  f"without a start {report['succeeded_without_a_start']}; LOST attempts retried "
                  f"{lost_attempts} of {len(known)}")
            if recover:
                print(f"  restart to serving (reconcile included): median "
                      f"{report['restart_to_serving_s']['median']:.2f} s, max {recover[-1]:.2f} s; "
                      f"longest pause between job starts {report['longest_launch_pause_s']:.2f} s")
            print(f"  launch rate {report['launch_rate_per_s']:.0f}/s over the campaign")
        for rid in lost[:5]:
            run = detail.get(rid)
            print(f"  LOST RUN {rid}: {json.dumps(run)[:600] if run else 'missing'}",
                  file=sys.stderr)
        for aid, n in list(twice.items())[:5]:
            print(f"  TWICE {aid}: {n} starts", file=sys.stderr)
        failed = lost or twice or unknown or succeeded_unstarted
        if failed:
            args.keep = True
            print(f"FAILED; work dir kept: {work}", file=sys.stderr)
        return 1 if failed else 0
    finally:
        for r in replicas:
            r.stop()
        if pg:
            pg.stdin.close()
            pg.wait(timeout=120)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def list_runs(port):
    runs, cursor = {}, ""
    while True:
        path = "/api/v1/runs?limit=500" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, body = call(port, "GET", path)
        if status != 200:
            raise SystemExit(f"listing runs: {status} {body}")
        for r in body["runs"]:
            runs[r["id"]] = r
        cursor = body.get("next_cursor") or ""
        if not cursor:
            return runs


if __name__ == "__main__":
    sys.exit(main())
