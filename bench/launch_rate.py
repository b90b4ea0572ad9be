#!/usr/bin/env python3
"""Local launches per second: submits N runs of a trivial job (`true` by default) from C client
threads as fast as the server takes them, waits until every run has ended, and reports, from the
times the store recorded:
  launch rate   N / (last attempt started - first run created)
  end rate      N / (last attempt ended - first run created)
  submit->start p50/p99 over all runs (a queue forms when submits outrun launches)
and checks that every run SUCCEEDED with exactly one attempt.

  bench/launch_rate.py URL [N] [--clients C] [--command CMD] [--no-shell] [--definition NAME]
"""
import argparse
import json
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone


TERMINAL = ("SUCCEEDED", "FAILED", "LOST", "STOPPED")


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Client:
    """A lean HTTP/1.1 keep-alive client: the load generator shares the two cores with the server,
    and http.client's header parsing (the email package) costs several times what this does."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.host = f"{u.hostname}:{u.port}".encode()

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: ".encode() + self.host +
                b"\r\nContent-Type: application/json\r\nContent-Length: " +
                str(len(data)).encode() + b"\r\n\r\n")
        self.sock.sendall(head + data)
        status = int(self.reader.readline().split(b" ", 2)[1])
        length = 0
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        text = self.reader.read(length) if length else b""
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status} {text[:300]!r}")
        return json.loads(text) if text else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--command", default="true")
    ap.add_argument("--no-shell", action="store_true",
                    help="define the job with command: [COMMAND] (a list: exec'd directly) instead of "
                         "command: COMMAND (run by /bin/sh -c)")
    ap.add_argument("--definition", default="launch-rate")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()

    job = {"command": a.command.split() if a.no_shell else a.command}
    Client(a.url).call("PUT", f"/api/v1/definitions/{a.definition}",
                       {"name": a.definition, **job, "resources": {"memory": "32Mi"}})
    ids = [None] * a.n
    nxt = iter(range(a.n))
    lock = threading.Lock()

    def submit():
        c = Client(a.url)
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            ids[i] = c.call("POST", "/api/v1/runs", {"definition": a.definition})["id"]

    t0 = time.time()
    threads = [threading.Thread(target=submit) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted = time.time() - t0

    c = Client(a.url)
    deadline = time.time() + a.timeout
    # Wait cheaply (one GET every 0.2 s) for the last run submitted, so the polling does not
    # compete with the launches; then read every run, and again those not ended yet.
    while c.call("GET", f"/api/v1/runs/{ids[-1]}")["status"] not in TERMINAL:
        if time.time() > deadline:
            raise SystemExit(f"the last run did not end within {a.timeout} s")
        time.sleep(0.2)
    runs = {}
    pending = list(ids)
    while pending:
        if time.time() > deadline:
            raise SystemExit(f"{len(pending)} runs did not end within {a.timeout} s")
        still = []
        for rid in pending:
            run = c.call("GET", f"/api/v1/runs/{rid}")
            if run["status"] in TERMINAL:
                runs[rid] = run
            else:
                still.append(rid)
        pending = still
        if pending:
            time.sleep(1)

    bad = [r for r in runs.values() if r["status"] != "SUCCEEDED" or len(r["attempts"]) != 1]
    created = [ts(r["created_at"]) for r in runs.values()]
    started = [ts(r["attempts"][0]["started_at"]) for r in runs.values()]
    ended = [ts(r["attempts"][0]["ended_at"]) for r in runs.values()]
    lat = sorted((s - c0) * 1000 for s, c0 in zip(started, created))

    def pct(p):
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

    first = min(created)
    how = f"[{a.command}] (no shell)" if a.no_shell else f"'{a.command}'"
    print(f"{a.n} runs of {how} from {a.clients} clients: submitted in {submitted:.2f} s "
          f"({a.n / submitted:.0f}/s); launch rate {a.n / (max(started) - first):.0f}/s; "
          f"end rate {a.n / (max(ended) - first):.0f}/s; submit->start p50 {pct(50):.1f} ms, "
          f"p99 {pct(99):.1f} ms; not SUCCEEDED in one attempt: {len(bad)}")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
