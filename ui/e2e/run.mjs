#!/usr/bin/env node
// End-to-end test of the web UI: a real `tug server` with real runs (a success, an OOM that
// retries into success, a user code error), driven in Debian's Chromium through playwright-core.
//
//   TUG_BINARY=/path/to/tug node e2e/run.mjs
//
// Environment:
//   TUG_BINARY          the tug binary (required)
//   TUG_SCREENSHOT_DIR  where the PNGs go (default: a new temporary directory)
//   TUG_SOURCE_DIR      the repository root (default: ../.. from this file); the OOM job is
//                       examples/memory-hog.yaml's command
//   TUG_E2E_UI_DIR      serve this built UI directory (sets TUG_UI_DIR for the server) instead
//                       of the copy embedded in the binary
//   CHROMIUM            the browser (default /usr/bin/chromium)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as scenes from './browser.mjs';
import { Checks, CheckFailure } from './checks.mjs';
import { fillQueue, queuesScene, writeQueuesConfig } from './queues.mjs';
import { api as apiClient, startServer } from './server.mjs';
import { PARAMS, SUCCESS, USER_ERROR, oomJob } from './workloads.mjs';

const GLOBAL_TIMEOUT_MS = 4 * 60_000;
const here = dirname(fileURLToPath(import.meta.url));

const binary = process.env.TUG_BINARY;
if (!binary) {
  console.error('e2e: set TUG_BINARY to the tug binary, e.g. TUG_BINARY=build/dev/tug npm run e2e');
  process.exit(2);
}
const sourceDir = resolve(process.env.TUG_SOURCE_DIR ?? join(here, '..', '..'));
const shots = resolve(process.env.TUG_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'tug-ui-shots-')));
mkdirSync(shots, { recursive: true });
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server = null;
let configDir = null;
let browser = null;
const check = new Checks();
const pageErrors = [];

async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}

const watchdog = setTimeout(async () => {
  console.error(`\nFAIL: the end-to-end test took longer than ${GLOBAL_TIMEOUT_MS / 1000} s`);
  if (server) console.error(`--- tug server log (last lines) ---\n${server.logTail(40)}`);
  await cleanup();
  console.log(`${check.passed} passed, 1 failed`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

async function main() {
  if (!existsSync(binary)) throw new CheckFailure('TUG_BINARY exists', binary, 'no such file');
  if (!existsSync(chromiumPath)) {
    throw new CheckFailure('Chromium is installed', chromiumPath, 'missing (apt-get install -y --no-install-recommends chromium)');
  }
  console.log(`e2e: tug ${binary}, sources ${sourceDir}, screenshots ${shots}`);
  const uiDir = process.env.TUG_E2E_UI_DIR ? resolve(process.env.TUG_E2E_UI_DIR) : undefined;
  // With team queues (one small queue; everything else runs in the unlimited default queue).
  configDir = mkdtempSync(join(tmpdir(), 'tug-e2e-config-'));
  server = await startServer(binary, { uiDir, args: ['--config', writeQueuesConfig(configDir)] });
  console.log(`e2e: server ${server.url} (pid ${server.pid}, data ${server.dataDir})`);
  const api = apiClient(server.url);

  const base = server.url;
  const index = await fetch(`${base}/`);
  const html = await index.text();
  check.ok(
    index.status === 200 && html.includes('id="app"'),
    'the server serves the UI at /',
    '200 with the UI index.html',
    `${index.status}: ${html.slice(0, 120).replace(/\s+/g, ' ')}`,
  );

  // Definitions and runs, for real.
  const OOM = oomJob(sourceDir);
  for (const def of [SUCCESS, OOM, USER_ERROR, PARAMS]) await api.ok('POST', '/definitions', def);
  const owner = { owner: 'e2e' };
  const submitted = {};
  for (const [key, def] of [['success', SUCCESS], ['oom', OOM], ['userError', USER_ERROR]]) {
    const r = await api.ok('POST', '/runs', { definition: def.name, ...owner });
    submitted[key] = r.id;
  }
  console.log(`e2e: runs ${JSON.stringify(submitted)}; waiting for them to end`);
  const runs = {};
  for (const [key, id] of Object.entries(submitted)) runs[key] = await api.waitRun(id);
  check.equal(runs.success.status, 'SUCCEEDED', 'the success run succeeded');
  check.equal(runs.oom.status, 'SUCCEEDED', 'the OOM run ended in success');
  check.ok(runs.oom.attempts.length >= 2, 'the OOM run took several attempts', '>= 2', runs.oom.attempts.length);
  check.equal(runs.userError.status, 'FAILED', 'the user error run failed');
  check.equal(runs.userError.attempts.length, 1, 'the user error was not retried');
  check.equal(runs.success.owner, 'e2e', 'runs carry their owner');

  // What the API says about bad input, to compare with what the form shows.
  const bad = await api.call('POST', '/runs', { definition: SUCCESS.name, resources: { memory: 'lots' } });
  check.equal(bad.status, 400, 'the API refuses memory "lots"');
  const badMessage = bad.json?.error?.message ?? '';

  browser = await chromium.launch({ executablePath: chromiumPath, args: scenes.CHROMIUM_ARGS });
  const wide = await scenes.newPage(browser, { width: 1280, height: 800 }, pageErrors);
  const ctx = { page: wide.page, base, check, runs, shots, api, badMessage };
  console.log('e2e: 1280 px, light');
  await scenes.runsList(ctx);
  await scenes.oomAttempts(ctx);
  await scenes.rootCauseLogs(ctx);
  await scenes.usageChart(ctx);
  await scenes.events(ctx);
  await scenes.submitForm(ctx);
  await scenes.parametersForm(ctx);
  await scenes.definitions(ctx);
  console.log('e2e: team queues');
  const queued = await fillQueue(api, check);
  await queuesScene({ ...ctx, queued });
  await wide.context.close();

  console.log('e2e: 800 px');
  const narrow = await scenes.newPage(browser, { width: 800, height: 1000 }, pageErrors);
  await scenes.narrow({ ...ctx, page: narrow.page });
  await narrow.context.close();

  console.log('e2e: dark');
  const dark = await scenes.newPage(browser, { width: 1280, height: 800, dark: true }, pageErrors);
  await scenes.dark({ ...ctx, page: dark.page });
  await dark.context.close();

  check.ok(pageErrors.length === 0, 'the UI raised no script errors', 'none', pageErrors.join(' | '));
}

main()
  .then(async () => {
    clearTimeout(watchdog);
    await cleanup();
    rmSync(server.dataDir, { recursive: true, force: true }); // kept after a failure, for a look
    rmSync(configDir, { recursive: true, force: true });
    console.log(`\ne2e: all checks passed; screenshots in ${shots}`);
    console.log(`${check.passed} passed, 0 failed`);
    process.exit(0);
  })
  .catch(async (e) => {
    clearTimeout(watchdog);
    console.error(`\nFAIL: ${e instanceof CheckFailure ? e.message : (e?.stack ?? e)}`);
    if (pageErrors.length > 0) console.error(`UI errors: ${pageErrors.join(' | ')}`);
    if (server) console.error(`--- tug server log (last lines) ---\n${server.logTail(40)}`);
    await cleanup();
    console.log(`${check.passed} passed, 1 failed`);
    process.exit(1);
  });
