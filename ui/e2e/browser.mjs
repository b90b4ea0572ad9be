// The browser half of the end-to-end test: what a person sees in Chromium.
import { join } from 'node:path';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A page that records script errors (failures of the UI itself). */
export async function newPage(browser, { width, height, dark = false }, errors) {
  const context = await browser.newContext({
    viewport: { width, height },
    colorScheme: dark ? 'dark' : 'light',
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests the UI handles (a 400 from a bad submit) are logged by the browser too.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console error: ${m.text()}`);
  });
  page.setDefaultTimeout(15_000);
  return { page, context };
}

async function shot(page, dir, name) {
  await page.screenshot({ path: join(dir, name) });
  console.log(`  screenshot ${name}`);
}

/** Runs list: the three runs with their status chips; Tab to the OOM run's link and Enter. */
export async function runsList({ page, base, check, runs, shots }) {
  await page.goto(`${base}/#/runs?owner=e2e`);
  const table = page.getByTestId('runs-table');
  await check.visible(table, 'the runs list shows a table');
  for (const [label, run] of Object.entries(runs)) {
    const row = page.locator(`tr[data-run-id="${run.id}"]`);
    await check.visible(row, `the runs list has the ${label} run ${run.id}`);
    const chip = row.getByTestId('status-chip');
    check.equal(await chip.getAttribute('data-status'), run.status, `the ${label} run's status chip`);
    check.equal((await chip.innerText()).trim(), run.status, `the ${label} run's chip text`);
  }
  const oomRow = page.locator(`tr[data-run-id="${runs.oom.id}"]`);
  await check.until(
    async () => Number((await oomRow.getByTestId('attempt-count').innerText()).trim()) === runs.oom.attempts.length,
    'the OOM run shows its attempt count',
    String(runs.oom.attempts.length),
  );
  await page.waitForTimeout(300);
  await shot(page, shots, 'runs.png');

  // Keyboard: from the status filter, Tab until the OOM run's link has focus, then Enter.
  await page.getByTestId('filter-status').focus();
  let focused = '';
  for (let i = 0; i < 80 && !focused.includes(runs.oom.id); i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.getAttribute('href') ?? '');
  }
  check.ok(focused.includes(runs.oom.id), 'Tab reaches the OOM run link', `#/runs/${runs.oom.id}`, focused || 'nothing');
  await page.keyboard.press('Enter');
  await check.until(async () => page.url().includes(`#/runs/${runs.oom.id}`), 'Enter on the link opens the run page', `#/runs/${runs.oom.id}`);
}

/** The OOM run: ≥2 attempts, each failed one with the API's decision sentence. */
export async function oomAttempts({ page, base, check, runs, shots }) {
  const run = runs.oom;
  await page.goto(`${base}/#/runs/${run.id}`);
  const cards = page.getByTestId('attempt-card');
  await check.visible(cards, 'the run page lists attempts');
  check.ok(run.attempts.length >= 2, 'the OOM run needed several attempts', '>= 2', run.attempts.length);
  check.equal(await cards.count(), run.attempts.length, 'one card per attempt');
  const sentence = run.attempts[0].decision?.sentence;
  check.ok(!!sentence, 'the API gives a decision sentence for attempt 1', 'a sentence', JSON.stringify(run.attempts[0].decision));
  const shown = page.locator('[data-attempt="1"]').getByTestId('decision-sentence');
  await check.visible(shown, 'attempt 1 shows its decision sentence');
  check.equal((await shown.innerText()).trim(), sentence, 'the decision sentence is the API one');
  const last = page.locator(`[data-attempt="${run.attempts.length}"]`);
  check.equal(await last.getAttribute('data-status'), 'SUCCEEDED', 'the last attempt succeeded');
  await shot(page, shots, 'run-oom-attempts.png');
}

/** The user error's logs: root cause off-screen at first, "Jump to error" brings it into view. */
export async function rootCauseLogs({ page, base, check, runs, shots }) {
  const run = runs.userError;
  const d = run.attempts[0].diagnosis;
  check.ok(d && /user_code/.test(d.class), 'the user error is diagnosed as user code', 'user_code_error', d?.class);
  check.ok(d.root_cause?.line > 0, 'its root cause is a log line', '> 0', d.root_cause?.line);
  await page.goto(`${base}/#/runs/${run.id}/logs`);
  const view = page.getByTestId('log-view');
  await check.visible(view, 'the logs tab shows the log');
  await check.until(
    async () => (await page.getByTestId('log-status').getAttribute('data-state')) === 'done',
    'the whole log was read',
    'data-state=done',
  );
  const lines = Number(await view.getAttribute('data-lines'));
  check.ok(lines >= d.root_cause.line, 'the log has the root-cause line', `>= ${d.root_cause.line} lines`, lines);
  const rendered = await view.locator('.log-line').count();
  check.ok(rendered < lines, 'the log is virtualized (fewer rows in the DOM than lines)', `< ${lines}`, rendered);
  const root = page.getByTestId('root-cause-line');
  check.equal(await root.count(), 0, 'the root-cause line starts out of view');

  // Keyboard: "/" focuses the search; Enter finds the error line.
  await view.click();
  await page.keyboard.press('/');
  check.equal(await page.evaluate(() => document.activeElement?.id), 'log-search', '"/" focuses the log search');
  await page.keyboard.type('NameError');
  await page.keyboard.press('Enter');
  await check.until(
    async () => /1 of \d+/.test(await page.getByTestId('match-count').innerText()),
    'search finds the error',
    '"1 of N"',
  );
  await page.keyboard.press('Escape');
  await view.evaluate((el) => {
    el.scrollTop = 0;
  });
  await check.until(async () => (await root.count()) === 0, 'scrolled back to the top', 'no root-cause row rendered');

  await page.getByTestId('jump-to-error').click();
  await check.visible(root, 'Jump to error renders the root-cause line');
  const text = (await root.innerText()).replace(/^\d+\s*/, '');
  check.ok(text.includes(d.root_cause.text.trim()), 'the root-cause line is the diagnosed one', d.root_cause.text, text);
  check.equal(await root.getAttribute('data-line'), String(d.root_cause.line), 'the highlighted line number');
  check.ok(await root.evaluate((el) => el.classList.contains('root-cause')), 'the line has the root-cause class', 'class root-cause', await root.getAttribute('class'));
  const inView = await root.evaluate((el) => {
    const v = el.closest('[data-testid="log-view"]').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return r.top >= v.top && r.bottom <= v.bottom;
  });
  check.ok(inView, 'Jump to error scrolls the line into view', 'inside the log viewport', 'outside');

  // The "e" key does the same.
  await view.evaluate((el) => {
    el.scrollTop = 0;
  });
  await check.until(async () => (await root.count()) === 0, 'back at the top, the root-cause line is out of view', 'no root-cause row rendered');
  await view.focus();
  await page.keyboard.press('e');
  await check.visible(root, 'the "e" key jumps to the error');
  await page.waitForTimeout(300);
  await shot(page, shots, 'logs-root-cause.png');
}

/** Usage of the success run: a memory chart with the limit line and several samples. */
export async function usageChart({ page, base, check, runs, shots }) {
  const run = runs.success;
  await page.goto(`${base}/#/runs/${run.id}/usage`);
  const chart = page.getByTestId('usage-memory');
  await check.visible(chart, 'the usage tab shows a memory chart');
  const limit = Number(await chart.first().getAttribute('data-limit-bytes'));
  const points = Number(await chart.first().getAttribute('data-points'));
  check.ok(limit > 0, 'the memory chart has a limit', '> 0 bytes', limit);
  check.equal(limit, 256 * 1024 * 1024, 'the limit is the attempt memory (256Mi)');
  check.ok(points >= 2, 'the memory chart has several samples', '>= 2 points', points);
  await check.until(async () => (await chart.first().getAttribute('data-limit-drawn')) === 'true', 'the limit line is drawn', 'data-limit-drawn=true');
  check.ok((await chart.first().locator('canvas').count()) > 0, 'the chart is drawn on a canvas', 'a canvas', 'none');
  await check.visible(page.getByTestId('usage-peaks'), 'the usage tab shows the peaks table');
  await shot(page, shots, 'usage.png');
}

/** Events of the OOM run: the merged timeline with the decisions shown prominently. */
export async function events({ page, base, check, runs, shots }) {
  const run = runs.oom;
  await page.goto(`${base}/#/runs/${run.id}/events`);
  const list = page.getByTestId('events');
  await check.visible(list.locator('li'), 'the events tab lists events');
  const decision = list.locator('li.event-decision').first();
  await check.visible(decision, 'decision events are marked');
  const msg = await decision.locator('.ev-msg').innerText();
  check.equal(msg.trim(), run.attempts[0].decision.sentence, 'the first decision event is attempt 1\'s sentence');
  for (const type of ['submitted', 'started', 'ended']) {
    check.ok((await list.locator(`li[data-type="${type}"]`).count()) > 0, `the timeline has "${type}" events`, 'at least one', 'none');
  }
  await shot(page, shots, 'events.png');
}

/** Submit: an inline error for bad memory, then a run for good input (keyboard Enter). */
export async function submitForm({ page, base, check, shots, api, badMessage }) {
  await page.goto(`${base}/#/submit?definition=e2e-success`);
  await check.visible(page.getByTestId('submit-form'), 'the submit form shows');
  await check.until(async () => (await page.getByTestId('submit-definition').inputValue()) === 'e2e-success', 'the definition is preselected', 'e2e-success');
  await page.getByTestId('submit-owner').fill('e2e');
  await page.getByTestId('submit-memory').fill('lots');
  await page.getByTestId('submit-button').click();
  const err = page.getByTestId('submit-error');
  await check.visible(err, 'a bad memory shows an inline error');
  check.ok((await err.getAttribute('role')) === 'alert', 'the error is an alert', 'role=alert', await err.getAttribute('role'));
  check.ok((await err.innerText()).includes(badMessage), 'the error is the API message', badMessage, await err.innerText());
  await check.visible(page.getByTestId('field-error-memory'), 'the error sits next to the memory field');
  check.equal(await page.getByTestId('submit-memory').inputValue(), 'lots', 'the form keeps what was typed');
  await shot(page, shots, 'submit-error.png');

  await page.getByTestId('submit-memory').fill('192Mi');
  await page.getByTestId('submit-button').focus();
  await page.keyboard.press('Enter');
  const id = await check.until(
    async () => /#\/runs\/([0-9a-z]+)$/.exec(page.url())?.[1],
    'good input creates a run and opens its page',
    '#/runs/<new id>',
  );
  await check.visible(page.locator(`article.run-page[data-run-id="${id}"]`), 'the page shows the new run');
  const created = await api.ok('GET', `/runs/${id}`);
  check.equal(created.definition, 'e2e-success', 'the new run is of the chosen definition');
  check.equal(created.overrides?.resources?.memory, 192 * 1024 * 1024, 'the memory override was sent');
  check.equal(created.owner, 'e2e', 'the owner was sent');

  // Its log streams while it runs (follow mode), growing line by line.
  await page.getByTestId('tab-logs').click();
  await check.until(
    async () => (await page.getByTestId('log-status').getAttribute('data-state')) === 'streaming',
    'the log of the running attempt streams',
    'data-state=streaming',
    20_000,
  );
  check.equal(await page.getByTestId('follow-toggle').getAttribute('aria-pressed'), 'true', 'follow is on for a running attempt');
  const view = page.getByTestId('log-view');
  const before = Number(await view.getAttribute('data-lines'));
  await check.until(
    async () => Number(await view.getAttribute('data-lines')) > Math.max(before, 2),
    'new lines arrive while following',
    `more than ${Math.max(before, 2)} lines`,
    20_000,
  );
  const atEnd = await view.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 24);
  check.ok(atEnd, 'follow keeps the end of the log in view', 'scrolled to the end', 'not at the end');

  // Stop it (two steps: Stop, then Confirm stop); the page updates live to STOPPED.
  await page.getByTestId('stop-button').click();
  await page.getByRole('button', { name: 'Confirm stop' }).click();
  const header = page.locator('.run-header').getByTestId('status-chip').first();
  await check.until(
    async () => (await header.getAttribute('data-status')) === 'STOPPED',
    'Stop ends the run and the page shows it without a reload',
    'STOPPED',
    30_000,
  );
  check.equal((await api.ok('GET', `/runs/${id}`)).status, 'STOPPED', 'the API agrees the run stopped');
  return id;
}

/** Definitions: the list and a detail page with recent runs and their success rate. */
/**
 * A parameterised definition: the form shows a field per schema property, and a hostile value
 * reaches the job as literal text (the server shell-quotes it into the command).
 */
export async function parametersForm({ page, base, check, api }) {
  await page.goto(`${base}/#/submit?definition=e2e-params`);
  await check.visible(page.getByTestId('submit-parameters'), 'the form shows the parameters of the definition');
  await check.visible(page.getByTestId('param-who'), 'a field for the string parameter');
  check.equal(await page.getByTestId('param-times').getAttribute('placeholder'), '2', 'the default is the placeholder');
  const hostile = "'; echo pwned #$(id)";
  await page.getByTestId('param-who').fill(hostile);
  await page.getByTestId('submit-button').click();
  const id = await check.until(
    async () => /#\/runs\/([0-9a-z]+)$/.exec(page.url())?.[1],
    'the parameters are sent and the run page opens',
    '#/runs/<new id>',
  );
  const run = await api.waitRun(id);
  check.equal(run.overrides?.parameters?.who, hostile, 'the run keeps the value as typed');
  check.equal(run.overrides?.parameters?.times, 2, 'the default applies');
  const log = await api.call('GET', `/runs/${id}/logs`);
  // The log also has the engine's own [tugboat] lines around the job's output.
  const lines = log.text.split('\n');
  check.ok(lines.includes(`who=${hostile} times=2`), 'the job saw the value as literal text', `who=${hostile} times=2`, log.text);
  check.ok(!lines.includes('pwned'), 'nothing in the value ran', 'no "pwned" line', log.text);
}

export async function definitions({ page, base, check, runs, shots }) {
  await page.goto(`${base}/#/definitions`);
  const table = page.getByTestId('definitions-table');
  await check.visible(table, 'the definitions page lists definitions');
  for (const name of ['e2e-success', 'e2e-oom', 'e2e-user-error']) {
    check.equal(await table.locator(`tr[data-definition="${name}"]`).count(), 1, `definition ${name} is listed`);
  }
  await table.locator('tr[data-definition="e2e-user-error"] a').first().click();
  await check.visible(page.getByTestId('definition-spec'), 'the definition page shows its spec');
  const row = page.locator(`tr[data-run-id="${runs.userError.id}"]`);
  await check.visible(row, 'the definition page lists its recent run');
  const rate = page.getByTestId('success-rate');
  await check.until(async () => (await rate.innerText()).startsWith('0%'), 'the success rate counts the failed run', '0% (0 of 1 …)');
  await shot(page, shots, 'definition.png');
  await page.getByTestId('definition-submit').click();
  await check.until(
    async () => (await page.getByTestId('submit-definition').inputValue()) === 'e2e-user-error',
    'Submit on the definition page opens the form for it',
    'e2e-user-error',
  );
}

/** The run page at 800 px: no sideways scrolling of the page. */
export async function narrow({ page, base, check, runs, shots }) {
  await page.goto(`${base}/#/runs/${runs.oom.id}`);
  await check.visible(page.getByTestId('attempt-card'), 'the run page renders at 800 px');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check.ok(width <= 800, 'nothing overflows sideways at 800 px', '<= 800', width);
  await shot(page, shots, 'run-800.png');
}

/** Dark mode: the system preference, and the toggle (remembered across reloads). */
export async function dark({ page, base, check, runs, shots }) {
  await page.goto(`${base}/#/runs/${runs.userError.id}`);
  await check.visible(page.getByTestId('run-diagnosis'), 'the run page shows the diagnosis');
  const lum = () =>
    page.evaluate(() => {
      const m = getComputedStyle(document.body).backgroundColor.match(/\d+(\.\d+)?/g).map(Number);
      return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
    });
  const l = await lum();
  check.ok(l < 0.25, 'a dark system preference gives a dark page', 'luminance < 0.25', l.toFixed(2));
  await shot(page, shots, 'run-dark.png');
  // The toggle: system → light → dark; "light" sticks after a reload.
  await page.getByTestId('theme-toggle').click();
  check.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light', 'the toggle picks light');
  const l2 = await lum();
  check.ok(l2 > 0.75, 'light wins over the dark system preference', 'luminance > 0.75', l2.toFixed(2));
  await page.reload();
  await check.visible(page.getByTestId('run-diagnosis'), 'the page reloads');
  check.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light', 'the theme choice is remembered');
}
