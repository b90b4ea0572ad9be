#!/usr/bin/env python3
"""Submit -> process started latency on the local engine: submits N runs of a trivial job, one
every 25 ms, then reads each run back and reports started_at - created_at (the shim records the
time the job process was forked)."""
import json
import sys
import time
import urllib.request
from datetime import datetime

base, n = sys.argv[1], int(sys.argv[2])


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
for _ in range(n):
    ids.append(call("POST", "/api/v1/runs", {"definition": "latency"})["id"])
    time.sleep(0.025)
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


print(f"submit -> process started, {len(lat)} runs: p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, "
      f"p99 {pct(99):.1f} ms, max {lat[-1]:.1f} ms")
