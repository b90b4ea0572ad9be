// The attempts timeline: one card per attempt with its resources, placement, outcome, class,
// root cause and the decision that shaped the next attempt, plus a bar on the run's time axis.
import type { Attempt, Decision, Run } from '../api/types';
import { isActiveAttempt } from '../api/types';
import { ClassChip, StatusChip } from '../components/common';
import { formatMoney } from '../lib/cost';
import { formatBytes, formatDuration, parseBytes, parseTime } from '../lib/format';
import { runHref } from '../lib/route';
import { attemptDuration, attemptWait, describeResources, logComponents, memoryUse, rootCauseComponent } from '../lib/runinfo';

export function AttemptsTimeline({ run, now }: { run: Run; now: number }) {
  if (run.attempts.length === 0) return <p class="muted">No attempts yet.</p>;
  const span = timeSpan(run, now);
  return (
    <>
      {run.attempts.length > 1 ? <Strip run={run} /> : null}
      <ol class="attempts" data-testid="attempts">
        {run.attempts.map((a) => (
          <AttemptCard key={a.id} run={run} attempt={a} now={now} span={span} />
        ))}
      </ol>
    </>
  );
}

/** The story at a glance: each attempt's memory and how it ended, in order. */
function Strip({ run }: { run: Run }) {
  const show = (n: number) =>
    document.querySelector(`[data-testid="attempt-card"][data-attempt="${n}"]`)?.scrollIntoView({ block: 'start' });
  return (
    <ol class="attempt-strip" aria-label="Attempts at a glance" data-testid="attempt-strip">
      {run.attempts.map((a) => {
        const mem = parseBytes(a.resources?.memory ?? null);
        return (
          <li key={a.id} class={`strip-${a.status.toLowerCase()}`}>
            <button type="button" class="strip-item" onClick={() => show(a.number)}>
              <span class="strip-no">#{a.number}</span>
              <span class="strip-what">{a.outcome?.reason || a.status.toLowerCase()}</span>
              {mem ? <span class="strip-mem">{formatBytes(mem)}</span> : null}
            </button>
          </li>
        );
      })}
    </ol>
  );
}

interface Span {
  start: number;
  end: number;
}

function timeSpan(run: Run, now: number): Span | null {
  const start = parseTime(run.attempts[0]?.created_at ?? run.created_at);
  if (start === null) return null;
  let end = start;
  for (const a of run.attempts) end = Math.max(end, parseTime(a.ended_at) ?? (isActiveAttempt(a.status) ? now : end));
  return { start, end: Math.max(end, start + 1) };
}

function pct(t: number, s: Span): number {
  return Math.min(100, Math.max(0, ((t - s.start) / (s.end - s.start)) * 100));
}

function Track({ a, span, now }: { a: Attempt; span: Span; now: number }) {
  const created = parseTime(a.due_at ?? a.created_at);
  const started = parseTime(a.started_at);
  const ended = parseTime(a.ended_at) ?? (isActiveAttempt(a.status) ? now : null);
  if (created === null) return null;
  const waitEnd = started ?? ended ?? now;
  return (
    <div class="track" aria-hidden="true" title="time on the run's axis: waiting (light) and running (solid)">
      <span class="wait" style={{ left: `${pct(created, span)}%`, width: `${Math.max(0.3, pct(waitEnd, span) - pct(created, span))}%` }} />
      {started !== null && ended !== null ? (
        <span
          class={`busy status-bg-${a.status.toLowerCase()}`}
          style={{ left: `${pct(started, span)}%`, width: `${Math.max(0.5, pct(ended, span) - pct(started, span))}%` }}
        />
      ) : null}
    </div>
  );
}

function AttemptCard({ run, attempt: a, now, span }: { run: Run; attempt: Attempt; now: number; span: Span | null }) {
  const d = a.diagnosis;
  const rc = d?.root_cause;
  const rcComponent = rootCauseComponent(d);
  const use = memoryUse(a);
  const limit = parseBytes(a.resources?.memory ?? null);
  const capacity = [a.placement?.capacity, a.placement?.executor_capacity ? `executors ${a.placement.executor_capacity}` : '']
    .filter(Boolean)
    .join(', ');
  const firstLog = rcComponent ?? logComponents(a, run.spec?.kind)[0] ?? 'main';
  return (
    <li class={`attempt attempt-${a.status.toLowerCase()}`} data-testid="attempt-card" data-attempt={a.number} data-status={a.status}>
      <div class="attempt-head">
        <h2 class="attempt-no">Attempt {a.number}</h2>
        <StatusChip status={a.status} small />
        {a.outcome ? (
          <span class="attempt-outcome">
            {a.outcome.reason}
            {a.outcome.exit_code !== null ? ` · exit ${a.outcome.exit_code}` : ''}
          </span>
        ) : null}
        <span class="spacer" />
        <span class="muted small" title="waited before starting">
          waited {formatDuration(attemptWait(a, now))}
        </span>
        <span class={`duration${isActiveAttempt(a.status) ? ' live' : ''}`} title="ran for">
          {formatDuration(attemptDuration(a, now))}
        </span>
      </div>
      {span ? <Track a={a} span={span} now={now} /> : null}
      <dl class="attempt-facts">
        <div>
          <dt>Resources</dt>
          <dd>{describeResources(a.resources).join(' · ') || '—'}</dd>
        </div>
        <div>
          <dt>Placement</dt>
          <dd>
            {capacity || '—'}
            {a.engine ? <span class="muted"> on {a.engine}</span> : null}
          </dd>
        </div>
        <div>
          <dt>Peak memory</dt>
          <dd>
            {a.peak_memory ? formatBytes(a.peak_memory) : '—'}
            {use !== null && limit ? (
              <>
                <span class="muted"> of {formatBytes(limit)}</span>
                <span class="use-bar" role="img" aria-label={`peak at ${Math.round(use * 100)}% of the limit`}>
                  <span class={`use-fill${use >= 0.9 ? ' hot' : ''}`} style={{ width: `${Math.min(100, use * 100)}%` }} />
                </span>
              </>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>CPU time</dt>
          <dd>{a.cpu_seconds ? `${a.cpu_seconds.toFixed(2)} s` : '—'}</dd>
        </div>
        {a.cost ? (
          <div>
            <dt>Cost</dt>
            <dd data-testid="attempt-cost" title={a.cost.basis}>
              {a.cost.estimated ? '~' : ''}
              {formatMoney(a.cost.usd, run.cost?.currency)}
              {a.cost.retry ? <span class="muted"> (retry)</span> : null}
            </dd>
          </div>
        ) : null}
      </dl>
      {a.outcome?.message ? <p class="attempt-message">{a.outcome.message}</p> : null}
      {a.components && a.components.length > 0 ? <Components attempt={a} /> : null}
      {d ? (
        <div class="attempt-diagnosis">
          <ClassChip cls={d.class} retryable={d.retryable} />
          {rc?.text ? (
            <span class="root-cause-text mono" data-testid="attempt-root-cause">
              {rc.text}
            </span>
          ) : null}
        </div>
      ) : null}
      <div class="attempt-links">
        <a href={runHref(run.id, 'logs', { attempt: a.number, component: firstLog, line: rcComponent ? rc?.line : undefined })}>
          {rcComponent ? `Logs at the root cause (line ${rc?.line})` : 'Logs'}
        </a>
        <a href={runHref(run.id, 'usage', { attempt: a.number })}>Usage</a>
      </div>
      {a.decision ? <DecisionBox decision={a.decision} /> : null}
    </li>
  );
}

function Components({ attempt }: { attempt: Attempt }) {
  return (
    <details class="components">
      <summary>
        {attempt.components!.length} components ({attempt.components!.map((c) => `${c.name} ${c.state}`).join(', ')})
      </summary>
      <table class="compact">
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">State</th>
            <th scope="col">Node</th>
            <th scope="col">Capacity</th>
            <th scope="col">Exit</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {attempt.components!.map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td>{c.state}</td>
              <td class="mono">{c.node ?? '—'}</td>
              <td>{c.capacity ?? '—'}</td>
              <td>{c.exit_code ?? '—'}</td>
              <td>{[c.reason, c.message].filter(Boolean).join(': ') || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function DecisionBox({ decision: d }: { decision: Decision }) {
  return (
    <div class={`decision ${d.retry ? 'decision-retry' : 'decision-stop'}`} data-testid="decision">
      <div class="decision-head">
        <span class="icon" aria-hidden="true">
          ◆
        </span>
        <span class="label">{d.retry ? 'Decision: retry' : 'Decision: no retry'}</span>
        {d.rule ? <span class="muted small mono">{d.rule}</span> : null}
        {d.retry && d.delay_seconds ? <span class="muted small">after {formatDuration(d.delay_seconds * 1000)}</span> : null}
      </div>
      {d.sentence ? (
        <p class="sentence" data-testid="decision-sentence">
          {d.sentence}
        </p>
      ) : null}
      {d.changes && d.changes.length > 0 ? (
        <ul class="changes" aria-label="changes for the next attempt">
          {d.changes.map((c) => (
            <li key={c.field}>
              <span class="change-field">{c.field}</span>: <span class="from">{c.from || '—'}</span>
              <span aria-label="to"> → </span>
              <span class="to">{c.to || '—'}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {d.budget ? (
        <p class="muted small">
          charged to the {d.budget} budget
          {d.user_failures !== undefined ? ` · job failures so far ${d.user_failures}` : ''}
          {d.infra_failures ? ` · infrastructure failures ${d.infra_failures}` : ''}
        </p>
      ) : null}
    </div>
  );
}
