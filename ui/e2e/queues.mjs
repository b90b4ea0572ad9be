// Team queues in the browser: the queues page against a server with a queue of one running run,
// and the page of a run that waits in it (its queue, place and the limit that holds it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const QUEUE = 'e2e-team';

/** The server's configuration: one queue that runs one run at a time within 1 CPU. */
export function writeQueuesConfig(dir) {
  const file = join(dir, 'tug-e2e-queues.yaml');
  writeFileSync(file, `queues:\n  - name: ${QUEUE}\n    weight: 2\n    max_running: 1\n    cpu: 1\n`);
  return file;
}

/** A run that holds the queue's only place until it is stopped. */
export const QUEUE_HOLD = {
  name: 'e2e-queued',
  description: 'sleeps in the e2e-team queue until stopped',
  command: 'sleep 600',
  queue: QUEUE,
  resources: { memory: '32Mi', cpu: '500m' },
  timeout: '15m',
  retry: { max_attempts: 1 },
};

/**
 * Submits two runs to the queue: the first runs, the second waits. Resolves with both once the
 * API reports the second's reason and position.
 */
export async function fillQueue(api, check) {
  await api.ok('POST', '/definitions', QUEUE_HOLD);
  const running = await api.ok('POST', '/runs', { definition: QUEUE_HOLD.name, owner: 'e2e-queues' });
  const waiting = await api.ok('POST', '/runs', { definition: QUEUE_HOLD.name, owner: 'e2e-queues' });
  await check.until(
    async () => (await api.ok('GET', `/runs/${running.id}`)).status === 'RUNNING',
    'the first run of the queue starts',
    'RUNNING',
    60_000,
  );
  const w = await check.until(
    async () => {
      const r = await api.ok('GET', `/runs/${waiting.id}`);
      return r.status === 'QUEUED' && r.queue_reason && r.queue_position ? r : null;
    },
    'the second run waits with a reason and a position',
    'QUEUED with queue_reason and queue_position',
    30_000,
  );
  check.equal(w.queue, QUEUE, 'the waiting run is in its definition\'s queue');
  return { running, waiting: w };
}

/** The queues page (through the navigation), then the waiting run's page; stops both runs. */
export async function queuesScene({ page, base, check, api, shots, queued }) {
  await page.goto(`${base}/#/runs`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Queues' }).click();
  const table = page.getByTestId('queues-table');
  await check.visible(table, 'the Queues link opens a table of the queues');
  const listed = await api.ok('GET', '/queues');
  for (const q of listed.queues) {
    check.equal(await table.locator(`tr[data-queue="${q.name}"]`).count(), 1, `queue ${q.name} is listed`);
  }
  const row = table.locator(`tr[data-queue="${QUEUE}"]`);
  await check.until(
    async () => (await row.getByTestId('queue-queued').innerText()).trim() === '1' && (await row.getByTestId('queue-running').innerText()).trim() === '1',
    `${QUEUE} shows 1 waiting and 1 running run`,
    '1 and 1',
  );
  const runs = row.getByTestId('gauge-runs');
  check.equal((await runs.innerText()).trim(), '1 of 1 running', `${QUEUE}'s running runs against its limit`);
  check.equal(await runs.getAttribute('data-full'), 'true', `${QUEUE}'s run limit shows as full`);
  check.equal((await row.getByTestId('gauge-cpu').innerText()).trim(), '0.5 of 1 CPU', `${QUEUE}'s CPU against its quota`);
  const mine = listed.queues.find((q) => q.name === QUEUE);
  check.ok(mine?.blocked, `the API says why ${QUEUE} is blocked`, 'a reason', JSON.stringify(mine));
  check.equal((await row.getByTestId('queue-blocked').innerText()).trim(), mine.blocked, `the page shows why ${QUEUE} waits`);
  await shot(page, shots, 'queues.png');

  // The waiting run's page says where it stands, as `tug get run` does.
  await page.goto(`${base}/#/runs/${queued.waiting.id}`);
  const wait = page.getByTestId('queue-wait');
  await check.visible(wait, 'a waiting run\'s page shows its queue');
  check.equal(await wait.getAttribute('data-queue'), QUEUE, 'the run page names the queue');
  check.equal((await wait.getByTestId('queue-position').innerText()).trim(), `next in ${QUEUE}`, 'the run page shows its place');
  check.equal((await wait.getByTestId('queue-reason').innerText()).trim(), queued.waiting.queue_reason, 'the run page shows the API\'s reason');
  await shot(page, shots, 'run-queued.png');

  // Stopped, the run no longer waits: the notice goes with the live update.
  await api.ok('POST', `/runs/${queued.waiting.id}/stop`);
  await check.until(async () => (await page.locator('article.run-page').getAttribute('data-status')) === 'STOPPED', 'the stopped run page updates', 'STOPPED', 30_000);
  check.equal(await wait.count(), 0, 'a stopped run shows no queue place');
  await api.ok('POST', `/runs/${queued.running.id}/stop`);
}

async function shot(page, dir, name) {
  await page.screenshot({ path: join(dir, name) });
  console.log(`  screenshot ${name}`);
}
