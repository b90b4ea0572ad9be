// Starts `tug server` on a free port with its own data directory, and talks to its API.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts the server; resolves with { url, dataDir, stop(), logTail() } once it listens.
 * `args` are added to `tug server` (e.g. ['--config', file]).
 */
export async function startServer(binary, { uiDir, args = [], timeoutMs = 30_000 } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tug-e2e-'));
  const env = { ...process.env };
  delete env.TUG_UI_DIR;
  if (uiDir) env.TUG_UI_DIR = uiDir;
  const child = spawn(binary, ['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const keep = (chunk) => {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(l);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tug server did not report its address within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk) => {
      keep(chunk);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join('\n'));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${binary}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tug server exited before listening (code ${code}, signal ${signal}):\n${lines.slice(-20).join('\n')}`));
    });
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const done = new Promise((r) => child.once('exit', r));
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  return { url, dataDir, pid: child.pid, stop, logTail: (n = 30) => lines.slice(-n).join('\n') };
}

/** A tiny client for /api/v1, with a bearer token when the server wants one. */
export function api(base, token = null) {
  const call = async (method, path, body) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const resp = await fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: resp.status, json, text, headers: resp.headers };
  };
  return {
    call,
    async ok(method, path, body) {
      const r = await call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status}: ${r.text.slice(0, 300)}`);
      return r.json;
    },
    /** Waits until the run is terminal; returns the run. */
    async waitRun(id, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await call('GET', `/runs/${id}`);
        if (r.status !== 200) throw new Error(`GET /runs/${id} → ${r.status}: ${r.text.slice(0, 200)}`);
        if (['SUCCEEDED', 'FAILED', 'STOPPED', 'LOST'].includes(r.json.status)) return r.json;
        if (Date.now() > deadline) throw new Error(`run ${id} still ${r.json.status} after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 500));
      }
    },
  };
}
