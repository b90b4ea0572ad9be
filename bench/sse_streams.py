#!/usr/bin/env python3
"""Idle server-sent event streams: how many one `tug server` holds and what they cost.

Starts `tug server` (local engine, SQLite, a temporary data dir, loopback, no auth), reads its
RSS idle, opens N idle streams (GET /api/v1/events/stream) from asyncio (one process, no thread
per connection), reads the RSS again, then submits one run and checks that every stream gets
its "submitted" event. Prints RSS per stream against the idle baseline.

  bench/sse_streams.py TUG_BINARY N [ROUNDS]"""
import asyncio
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

tug, n = sys.argv[1], int(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


async def open_stream(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream refused: {head[:200]!r}")
    return reader, writer


async def wait_for(reader, needle, deadline):
    buf = b""
    while needle not in buf:
        chunk = await asyncio.wait_for(reader.read(65536), max(0.1, deadline - time.time()))
        if not chunk:
            return False
        buf += chunk
    return True


async def settled_rss(pid):
    """The RSS once it stops moving: the server keeps initialising (the diagnosis catalog, the
    first polls) for a few seconds after it listens."""
    last = rss_kb(pid)
    for _ in range(60):
        await asyncio.sleep(1)
        now = rss_kb(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


async def one_round(port, pid, base):
    idle = await settled_rss(pid)
    streams = []
    t0 = time.time()
    for i in range(0, n, 500):  # in batches, so the listen backlog is not the limit
        streams += await asyncio.gather(*(open_stream(port) for _ in range(min(500, n - i))))
    opened = time.time() - t0
    held = await settled_rss(pid)
    run = call(base, "POST", "/api/v1/runs", {"definition": "sse-bench"})["id"]
    deadline = time.time() + 120
    t1 = time.time()
    got = await asyncio.gather(*(wait_for(r, run.encode(), deadline) for r, _ in streams))
    delivered = time.time() - t1
    for _, w in streams:
        w.close()
    ok = sum(1 for g in got if g)
    return idle, held, opened, delivered, ok


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 100:
        raise SystemExit(f"the open-file hard limit {hard} is below {n} streams")
    # A fresh server each round: freed stream memory stays in the allocator, so a second round
    # on the same server would start from a higher "idle".
    for r in range(1, rounds + 1):
        with tempfile.TemporaryDirectory() as d:
            proc = subprocess.Popen([tug, "server", "--listen", "127.0.0.1:0", "--data-dir", d],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                line = proc.stdout.readline()
                port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))
                base = f"http://127.0.0.1:{port}"
                call(base, "PUT", "/api/v1/definitions/sse-bench",
                     {"name": "sse-bench", "command": "true", "resources": {"memory": "32Mi"}})
                idle, held, opened, delivered, ok = asyncio.run(one_round(port, proc.pid, base))
                per = (held - idle) * 1024 / n
                print(f"[{r}] {n} idle streams: server RSS idle {idle / 1024:.1f} MB, with streams "
                      f"{held / 1024:.1f} MB, {per:.0f} bytes/stream; opened in {opened:.1f} s; "
                      f"a new run's 'submitted' reached {ok}/{n} streams in {delivered:.2f} s")
                sys.stdout.flush()
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)

main()
