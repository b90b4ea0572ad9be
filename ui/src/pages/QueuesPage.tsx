// Team queues: each queue's use against its quota, its waiting and running runs, its fair share
// and why its first waiting run waits. GET /api/v1/queues, polled (no event covers queue totals).
import { usePoll } from '../api/hooks';
import type { QueueInfo, QueuesResponse } from '../api/types';
import { ErrorNotice, Loading } from '../components/common';
import { describeUserLimits, formatShare, type Gauge, queueGauges, sortQueues } from '../lib/queues';

export const QUEUES_POLL_MS = 5000;

export function QueuesPage() {
  const polled = usePoll<QueuesResponse>('/queues', QUEUES_POLL_MS);
  const data = polled.data;
  const queues = data ? sortQueues(data.queues) : [];
  return (
    <section aria-labelledby="queues-title">
      <div class="page-head">
        <h1 id="queues-title">Queues</h1>
      </div>
      {polled.error ? <ErrorNotice error={polled.error} what="Could not load the queues" /> : null}
      {polled.loading && !data ? <Loading what="the queues" /> : null}
      {data && !data.enabled ? (
        <p class="muted" data-testid="queues-off">
          Team queues are off: every run starts as soon as it is due. Configure <code>queues:</code> in the server's
          configuration to share the cluster with quotas and fair share.
        </p>
      ) : null}
      {queues.length > 0 ? (
        <div class="table-wrap">
          <table class="queues" data-testid="queues-table">
            <caption class="sr-only">Queues, highest priority first</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" class="num">
                  Waiting
                </th>
                <th scope="col" class="num">
                  Running
                </th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">GPU</th>
                <th scope="col">Runs</th>
                <th scope="col" class="num">
                  Share
                </th>
                <th scope="col" class="num">
                  Weight
                </th>
                <th scope="col" class="num">
                  Priority
                </th>
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => (
                <QueueRow key={q.name} q={q} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function QueueRow({ q }: { q: QueueInfo }) {
  const [cpu, memory, gpu, runs] = queueGauges(q);
  const perUser = describeUserLimits(q.per_user);
  return (
    <tr data-queue={q.name}>
      <td>
        <strong>{q.name}</strong>
        {q.cohort ? <div class="sub">cohort {q.cohort}</div> : null}
        {perUser ? <div class="sub">{perUser}</div> : null}
        {q.blocked ? (
          <div class="sub queue-blocked" data-testid="queue-blocked">
            {q.blocked}
          </div>
        ) : null}
      </td>
      <td class="num" data-testid="queue-queued">
        {q.queued}
      </td>
      <td class="num" data-testid="queue-running">
        {q.running}
      </td>
      <td>
        <Meter g={cpu!} />
      </td>
      <td>
        <Meter g={memory!} />
      </td>
      <td>
        <Meter g={gpu!} />
      </td>
      <td>
        <Meter g={runs!} />
      </td>
      <td class="num" data-testid="queue-share">
        {formatShare(q.share)}
      </td>
      <td class="num">{q.weight}</td>
      <td class="num">{q.priority}</td>
    </tr>
  );
}

function Meter({ g }: { g: Gauge }) {
  return (
    <div class={`meter${g.full ? ' meter-full' : ''}`} data-testid={`gauge-${g.resource}`} data-full={g.full ? 'true' : 'false'}>
      <span class="meter-text">{g.text}</span>
      {g.fraction !== null ? (
        <span class="meter-bar" aria-hidden="true">
          <span class="meter-fill" style={{ width: `${Math.round(g.fraction * 100)}%` }} />
        </span>
      ) : null}
    </div>
  );
}
