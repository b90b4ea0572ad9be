#!/usr/bin/env node
// End-to-end test of signing in to the web UI: a real `tug server` with bearer-token
// authentication on (loopback), tokens for a viewer and two users in different groups, driven
// in Debian's Chromium through playwright-core.
//
//   TUG_BINARY=/path/to/tug node e2e/auth.mjs
//
// Checks: a bad token shows the server's message; a viewer signs in, sees their group's runs and
// not another group's, and is offered no submit, stop or re-run; a user submits a run from the
// form (without naming an owner: the server makes them the owner) and stops it; a revoked token
// sends the page back to sign-in with the server's message; every API request but the open
// /api/v1/auth/config carries the token, and nothing asks for /metrics.
//
// Environment: TUG_BINARY (required), TUG_SCREENSHOT_DIR, TUG_E2E_UI_DIR, CHROMIUM (as run.mjs).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, newPage } from './browser.mjs';
import { CheckFailure, Checks } from './checks.mjs';
import { api as apiClient, startServer } from './server.mjs';

const GLOBAL_TIMEOUT_MS = 3 * 60_000;
const binary = process.env.TUG_BINARY;
if (!binary) {
  console.error('e2e: set TUG_BINARY to the tug binary, e.g. TUG_BINARY=build/dev/tug node e2e/auth.mjs');
  process.exit(2);
}
const shots = resolve(process.env.TUG_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'tug-ui-shots-')));
mkdirSync(shots, { recursive: true });
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server = null;
let browser = null;
const confDir = mkdtempSync(join(tmpdir(), 'tug-e2e-auth-conf-'));
const check = new Checks();
const pageErrors = [];

async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
  rmSync(confDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error(`\nFAIL: the sign-in test took longer than ${GLOBAL_TIMEOUT_MS / 1000} s`);
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

const QUICK = (name, text) => ({
  name,
  description: `prints "${text}"`,
  command: `echo ${text}`,
  resources: { memory: '32Mi', cpu: '100m' },
  timeout: '5m',
  retry: { max_attempts: 1 },
});
const SLEEPER = {
  name: 'e2e-auth-sleep',
  description: 'sleeps until stopped',
  command: 'echo started; sleep 300',
  resources: { memory: '32Mi', cpu: '100m' },
  timeout: '10m',
  retry: { max_attempts: 1 },
};

/** Every request the page makes, to check the token goes along (and /metrics is never asked). */
function recordRequests(page, into) {
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/api/') || url.pathname === '/metrics') {
      into.push({ path: url.pathname, auth: r.headers().authorization ?? '' });
    }
  });
}

async function signIn(page, check, token, who) {
  await check.visible(page.getByTestId('signin-form'), `${who}: the sign-in page shows`);
  await page.getByTestId('signin-token').fill(token);
  await page.getByTestId('signin-button').click();
  await check.visible(page.getByTestId('whoami'), `${who}: signed in, the header says who`);
}

async function main() {
  if (!existsSync(binary)) throw new CheckFailure('TUG_BINARY exists', binary, 'no such file');
  if (!existsSync(chromiumPath)) {
    throw new CheckFailure('Chromium is installed', chromiumPath, 'missing (apt-get install -y --no-install-recommends chromium)');
  }
  const adminFile = join(confDir, 'admin-token');
  const config = join(confDir, 'tug.yaml');
  writeFileSync(config, `auth:\n  enabled: true\n  bootstrap_token_file: ${adminFile}\n  visibility: group\n`);
  const uiDir = process.env.TUG_E2E_UI_DIR ? resolve(process.env.TUG_E2E_UI_DIR) : undefined;
  server = await startServer(binary, { uiDir, args: ['--config', config] });
  console.log(`e2e: server ${server.url} with authentication (pid ${server.pid}, data ${server.dataDir})`);
  const base = server.url;
  const admin = apiClient(base, readFileSync(adminFile, 'utf8').trim());

  const anonymous = await apiClient(base).call('GET', '/runs');
  check.equal(anonymous.status, 401, 'the API refuses anonymous requests');
  const conf = await apiClient(base).call('GET', '/auth/config');
  check.equal(conf.json?.enabled, true, 'the open auth config says sign-in is needed');

  const tokens = {};
  for (const [user, groups, role] of [
    ['vic', ['science'], 'viewer'],
    ['ada', ['science'], 'user'],
    ['bob', ['other'], 'user'],
  ]) {
    const t = await admin.ok('POST', '/tokens', { name: 'e2e', user, groups, role });
    tokens[user] = { token: t.token, id: t.id };
  }
  const ada = apiClient(base, tokens.ada.token);
  const bob = apiClient(base, tokens.bob.token);
  const vic = apiClient(base, tokens.vic.token);
  await ada.ok('POST', '/definitions', { ...QUICK('e2e-auth-science', 'science'), group: 'science' });
  await ada.ok('POST', '/definitions', { ...SLEEPER, group: 'science' });
  await bob.ok('POST', '/definitions', { ...QUICK('e2e-auth-other', 'other'), group: 'other' });
  const scienceRun = (await ada.ok('POST', '/runs', { definition: 'e2e-auth-science' })).id;
  const otherRun = (await bob.ok('POST', '/runs', { definition: 'e2e-auth-other' })).id;
  await admin.waitRun(scienceRun);
  await admin.waitRun(otherRun);
  const vicSees = (await vic.ok('GET', '/runs')).runs.map((r) => r.id);
  check.ok(vicSees.includes(scienceRun) && !vicSees.includes(otherRun), "the API shows the viewer only their group's runs", `[${scienceRun}]`, JSON.stringify(vicSees));
  const forged = await ada.call('POST', '/runs', { definition: 'e2e-auth-science', owner: 'e2e' });
  check.equal(forged.status, 403, 'the API refuses a user naming another owner (what the form must not send)');

  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const requests = [];

  // 1. A bad token: the server's message on the sign-in page.
  console.log('e2e: a bad token');
  const bad = await newPage(browser, { width: 1280, height: 800 }, pageErrors);
  recordRequests(bad.page, requests);
  const badToken = 'tug_this-token-does-not-exist';
  const refusal = await apiClient(base, badToken).call('GET', '/whoami');
  check.equal(refusal.status, 401, 'the API refuses the bad token');
  await bad.page.goto(`${base}/#/runs`);
  await check.visible(bad.page.getByTestId('signin-form'), 'with authentication on, the UI opens on the sign-in page');
  await bad.page.getByTestId('signin-token').fill(badToken);
  await bad.page.getByTestId('signin-button').click();
  const err = bad.page.getByTestId('signin-error');
  await check.visible(err, 'a bad token shows an error');
  const message = refusal.json?.error?.message ?? '';
  check.ok(message !== '' && (await err.innerText()).includes(message), "the error is the server's message", message, await err.innerText());
  check.equal(await bad.page.getByTestId('runs-table').count(), 0, 'no runs are shown without signing in');
  await bad.page.screenshot({ path: join(shots, 'signin-error.png') });
  await bad.context.close();

  // 2. A viewer: their group's runs, no submit / stop / re-run.
  console.log('e2e: a viewer');
  const viewer = await newPage(browser, { width: 1280, height: 800 }, pageErrors);
  recordRequests(viewer.page, requests);
  await viewer.page.goto(`${base}/#/runs`);
  await signIn(viewer.page, check, tokens.vic.token, 'viewer');
  const whoami = viewer.page.getByTestId('whoami');
  check.equal(await whoami.getAttribute('data-user'), 'vic', 'the header names the viewer');
  check.equal(await whoami.getAttribute('data-role'), 'viewer', 'the header shows the role');
  await check.visible(viewer.page.locator(`tr[data-run-id="${scienceRun}"]`), "the viewer sees their group's run");
  check.equal(await viewer.page.locator(`tr[data-run-id="${otherRun}"]`).count(), 0, "the viewer does not see another group's run");
  check.equal(await viewer.page.getByTestId('runs-submit').count(), 0, 'no "Submit a run" button for a viewer');
  check.equal(await viewer.page.locator('nav a', { hasText: 'Submit' }).count(), 0, 'no Submit link in the header for a viewer');
  await viewer.page.screenshot({ path: join(shots, 'viewer-runs.png') });
  await viewer.page.goto(`${base}/#/runs/${scienceRun}`);
  await check.visible(viewer.page.locator(`article.run-page[data-run-id="${scienceRun}"]`), 'the viewer opens the run');
  check.equal(await viewer.page.getByTestId('rerun-button').count(), 0, 'no Re-run for a viewer');
  check.equal(await viewer.page.getByTestId('stop-button').count(), 0, 'no Stop for a viewer');
  await viewer.page.goto(`${base}/#/runs/${otherRun}`);
  await check.visible(viewer.page.locator('.notice-error'), "another group's run is refused with the server's reason");
  await viewer.page.goto(`${base}/#/definitions/e2e-auth-science`);
  await check.visible(viewer.page.getByTestId('definition-spec'), 'the viewer reads a definition of their group');
  check.equal(await viewer.page.getByTestId('definition-submit').count(), 0, "no Submit on a definition's page for a viewer");
  await viewer.page.goto(`${base}/#/submit?definition=e2e-auth-science`);
  await check.visible(viewer.page.getByTestId('submit-not-allowed'), 'the submit page tells a viewer why not');
  await viewer.page.getByTestId('signout').click();
  await check.visible(viewer.page.getByTestId('signin-form'), 'Sign out returns to the sign-in page');
  await viewer.page.reload();
  await check.visible(viewer.page.getByTestId('signin-form'), 'after signing out, a reload does not sign in again');
  await viewer.context.close();

  // 3. A user: submits from the form (no owner sent), stops the run; then the token is revoked.
  console.log('e2e: a user');
  const user = await newPage(browser, { width: 1280, height: 800 }, pageErrors);
  recordRequests(user.page, requests);
  await user.page.goto(`${base}/#/submit?definition=e2e-auth-sleep`);
  await signIn(user.page, check, tokens.ada.token, 'user');
  await check.visible(user.page.getByTestId('submit-form'), 'after signing in, the page the URL named opens');
  await check.until(async () => (await user.page.getByTestId('submit-definition').inputValue()) === 'e2e-auth-sleep', 'the definition is preselected', 'e2e-auth-sleep');
  check.equal(await user.page.getByTestId('submit-owner').count(), 0, 'a user is not asked for an owner (the server names it)');
  await user.page.getByTestId('submit-button').click();
  const id = await check.until(async () => /#\/runs\/([0-9a-z]+)$/.exec(user.page.url())?.[1], 'the form creates a run and opens it', '#/runs/<new id>');
  const created = await admin.ok('GET', `/runs/${id}`);
  check.equal(created.owner, 'ada', 'the run is owned by the signed-in user');
  check.equal(created.group, 'science', "the run is in the user's group");
  await check.until(async () => (await user.page.getByTestId('stop-button').count()) > 0, 'a user may stop their run', 'a Stop button');
  await user.page.getByTestId('stop-button').click();
  await user.page.getByRole('button', { name: 'Confirm stop' }).click();
  const header = user.page.locator('.run-header').getByTestId('status-chip').first();
  await check.until(async () => (await header.getAttribute('data-status')) === 'STOPPED', 'Stop ends the run and the page shows it', 'STOPPED', 30_000);
  check.equal((await admin.ok('GET', `/runs/${id}`)).status, 'STOPPED', 'the API agrees the run stopped');
  await user.page.screenshot({ path: join(shots, 'user-stopped.png') });

  await admin.ok('DELETE', `/tokens/${tokens.ada.id}`);
  const revoked = await ada.call('GET', '/whoami');
  check.equal(revoked.status, 401, 'the revoked token is refused at once');
  await user.page.goto(`${base}/#/runs`);
  const gone = user.page.getByTestId('signin-error');
  await check.visible(gone, 'a 401 returns to the sign-in page');
  const why = revoked.json?.error?.message ?? '';
  check.ok(why !== '' && (await gone.innerText()).includes(why), "with the server's message", why, await gone.innerText());
  await user.context.close();

  const unsigned = requests.filter((r) => r.path !== '/api/v1/auth/config' && !r.auth.startsWith('Bearer '));
  check.ok(unsigned.length === 0, 'every API request of the UI carries the token', 'none without', JSON.stringify(unsigned.slice(0, 5)));
  check.ok(!requests.some((r) => r.path === '/metrics'), 'the UI never asks for /metrics', 'no request', 'a request to /metrics');
  check.ok(pageErrors.length === 0, 'the UI raised no script errors', 'none', pageErrors.join(' | '));
}

main()
  .then(async () => {
    clearTimeout(watchdog);
    const dataDir = server.dataDir;
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    console.log(`\ne2e: all sign-in checks passed; screenshots in ${shots}`);
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
