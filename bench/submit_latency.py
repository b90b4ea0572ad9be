#!/usr/bin/env python3
"""Submit -> process started latency on the local engine: submits N runs of a trivial job at a
steady rate (default 100 a second, one every 10 ms), then reads each run back and reports
started_at - created_at (the shim records when the job's process exec'd).

  bench/submit_latency.py URL N [RATE_PER_SECOND]"""
import json
import sys
import time
import urllib.request
from datetime import datetime

base, n = sys.argv[1], int(sys.argv[2])
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


call("PUT", "/api/v1/definitions/latency", {"name": "latency", "command": "true",
                                              "resources": {"memory": "32Mi"}})
ids = []
start = time.time()
for i in range(n):
    # On a schedule, not "sleep after each": a slow answer does not lower the rate.
    time.sleep(max(0.0, start + i / rate - time.time()))
    ids.append(call("POST", "/api/v1/runs", {"definition": "latency"})["id"])
lat = []
deadline = time.time() + 120
for rid in ids:
    while True:
        run = call("GET", f"/api/v1/runs/{rid}")
        a = run["attempts"][0]
        if a["started_at"] and run["status"] in ("SUCCEEDED", "FAILED", "LOST", "STOPPED"):
            lat.append((ts(a["started_at"]) - ts(run["created_at"])) * 1000)
            break
        if time.time() > deadline:
            raise SystemExit(f"run {rid} did not finish")
        time.sleep(0.05)
lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]


print(f"submit -> process started, {len(lat)} runs at {rate:.0f}/s: p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, "
      f"p99 {pct(99):.1f} ms, max {lat[-1]:.1f} ms")
