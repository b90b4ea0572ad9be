// One run: what happened and why. Header (status, outcome, root cause, actions), then the
// sections Attempts | Logs | Events | Usage | Definition, each with its own URL.
import { useEffect, useState } from 'preact/hooks';
import { can } from '../api/auth';
import { ApiError, enc, postJson } from '../api/client';
import { useNow, usePoll } from '../api/hooks';
import { useLive } from '../api/live';
import type { Run } from '../api/types';
import { isActiveRun } from '../api/types';
import { At, ClassChip, ErrorNotice, Loading, StatusChip } from '../components/common';
import { Lineage } from '../components/Lineage';
import { LinkTabs } from '../components/Tabs';
import { costSummary } from '../lib/cost';
import { formatDuration } from '../lib/format';
import { type RunTab, definitionHref, navigate, runHref, runsHref, submitHref } from '../lib/route';
import { lastDiagnosed, rootCauseComponent, runDuration } from '../lib/runinfo';
import { describeOverrides, rerunRequest } from '../lib/submit';
import { useSettings } from '../settings';
import { AttemptsTimeline } from './Attempts';
import { EventsTab } from './EventsTab';
import { LogsTab } from './LogsTab';
import { SpecTab } from './SpecTab';
import { UsageTab } from './UsageTab';

export function RunPage({ id, tab, params }: { id: string; tab: RunTab; params: URLSearchParams }) {
  const [active, setActive] = useState(true);
  // Live while the run is active: its event stream says when to refetch (polling only while the
  // stream is not connected); the stream ends when the run does.
  const live = useLive(active ? `/runs/${enc(id)}/events?follow=true` : null);
  const polled = usePoll<Run>(`/runs/${enc(id)}`, live.connected ? 0 : active ? 2000 : 15_000);
  useEffect(() => {
    if (live.version > 0) polled.refresh();
  }, [live.version]);
  const run = polled.data;
  const nowActive = run ? isActiveRun(run.status) : true;
  useEffect(() => setActive(nowActive), [nowActive]);
  const now = useNow(1000, nowActive);

  if (!run) {
    return (
      <section>
        <p class="crumbs">
          <a href={runsHref()}>Runs</a> / <span class="mono">{id}</span>
        </p>
        {polled.error ? <ErrorNotice error={polled.error} what="Could not load the run" /> : <Loading what="the run" />}
      </section>
    );
  }

  const tabs = [
    { id: 'attempts', label: `Attempts (${run.attempts.length})`, href: runHref(id) },
    { id: 'logs', label: 'Logs', href: runHref(id, 'logs') },
    { id: 'events', label: 'Events', href: runHref(id, 'events') },
    { id: 'usage', label: 'Usage', href: runHref(id, 'usage') },
    { id: 'definition', label: 'Definition', href: runHref(id, 'definition') },
  ];
  return (
    <article class="run-page" aria-labelledby="run-title" data-run-id={run.id} data-status={run.status}>
      <p class="crumbs">
        <a href={runsHref()}>Runs</a> / <span class="mono">{run.id}</span>
      </p>
      <RunHeader run={run} now={now} onChanged={polled.refresh} full={tab === 'attempts'} />
      <Lineage run={run} />
      {polled.error ? <ErrorNotice error={polled.error} what="Live updates paused" /> : null}
      <LinkTabs tabs={tabs} current={tab} label="Run sections" />
      <div class="tab-panel" data-testid={`panel-${tab}`}>
        {tab === 'attempts' ? <AttemptsTimeline run={run} now={now} /> : null}
        {tab === 'logs' ? <LogsTab run={run} params={params} /> : null}
        {tab === 'events' ? <EventsTab run={run} live={live.connected ? live.version : null} /> : null}
        {tab === 'usage' ? <UsageTab run={run} params={params} /> : null}
        {tab === 'definition' ? <SpecTab run={run} /> : null}
      </div>
    </article>
  );
}

/** `full`: with the diagnosis and the plan (the attempts tab); other tabs keep it short. */
function RunHeader({ run, now, onChanged, full }: { run: Run; now: number; onChanged: () => void; full: boolean }) {
  const { owner, identity } = useSettings();
  const mayStop = can(identity, 'stop');
  const mayRun = can(identity, 'submit');
  const [busy, setBusy] = useState<'' | 'stop' | 'rerun'>('');
  const [confirmStop, setConfirmStop] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const active = isActiveRun(run.status);
  const diagnosed = lastDiagnosed(run);
  const failed = run.status !== 'SUCCEEDED' && !!diagnosed?.diagnosis;
  const rc = diagnosed?.diagnosis?.root_cause;
  const rcComponent = rootCauseComponent(diagnosed?.diagnosis);
  const overrides = describeOverrides(run.overrides);
  const cost = costSummary(run);

  const stop = async () => {
    setBusy('stop');
    setError(null);
    try {
      await postJson(`/runs/${enc(run.id)}/stop`);
      setConfirmStop(false);
      onChanged();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
    } finally {
      setBusy('');
    }
  };
  const rerun = async () => {
    setBusy('rerun');
    setError(null);
    try {
      // Signed in, a re-run is the signer's own: the server names its owner.
      const created = await postJson<Run>('/runs', identity ? rerunRequest(run, '', false) : rerunRequest(run, owner));
      navigate(runHref(created.id));
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
    } finally {
      setBusy('');
    }
  };

  return (
    <header class="run-header">
      <div class="title-row">
        <h1 id="run-title">
          <a href={definitionHref(run.definition)}>{run.definition}</a>
          <span class="version">v{run.definition_version}</span>
        </h1>
        <StatusChip status={run.status} />
        {run.stop_requested && active ? <span class="chip">stop requested</span> : null}
        <div class="actions">
          {run.spark_ui ? (
            <a class="button" href={run.spark_ui} target="_blank" rel="noopener" data-testid="spark-ui-link">
              Spark UI ↗
            </a>
          ) : null}
          {mayStop && active && !run.stop_requested ? (
            confirmStop ? (
              <>
                <button type="button" class="danger" onClick={() => void stop()} disabled={busy !== ''}>
                  {busy === 'stop' ? 'Stopping…' : 'Confirm stop'}
                </button>
                <button type="button" onClick={() => setConfirmStop(false)}>
                  Cancel
                </button>
              </>
            ) : (
              <button type="button" class="danger" onClick={() => setConfirmStop(true)} data-testid="stop-button">
                Stop
              </button>
            )
          ) : null}
          {mayRun ? (
            <>
              <button type="button" onClick={() => void rerun()} disabled={busy !== ''} data-testid="rerun-button">
                {busy === 'rerun' ? 'Submitting…' : 'Re-run'}
              </button>
              <a class="button" href={submitHref(run.definition, run.id)}>
                Re-run with changes
              </a>
            </>
          ) : null}
        </div>
      </div>
      {error ? <ErrorNotice error={error} /> : null}
      {run.outcome ? (
        <p class={`outcome outcome-${run.status.toLowerCase()}`} data-testid="run-outcome">
          <strong>
            {run.outcome.reason}
            {run.outcome.exit_code !== null ? ` (exit ${run.outcome.exit_code})` : ''}
          </strong>
          {run.outcome.message ? `: ${run.outcome.message}` : ''}
        </p>
      ) : null}
      <dl class="facts">
        <div>
          <dt>Run</dt>
          <dd class="mono">{run.id}</dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd data-testid="run-owner">{run.owner || <span class="muted">—</span>}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <At at={run.created_at} />
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            <At at={run.started_at} />
          </dd>
        </div>
        <div>
          <dt>Ended</dt>
          <dd>
            <At at={run.ended_at} />
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd class={active ? 'live' : ''}>{formatDuration(runDuration(run, now))}</dd>
        </div>
        {cost ? (
          <div>
            <dt>Cost</dt>
            <dd data-testid="run-cost" title={cost.note}>
              {cost.total}
              {cost.retries ? (
                <span class="muted small" data-testid="run-retries-cost">
                  {' '}
                  ({cost.retries})
                </span>
              ) : null}
            </dd>
          </div>
        ) : null}
        {overrides ? (
          <div>
            <dt>Overrides</dt>
            <dd>{overrides}</dd>
          </div>
        ) : null}
      </dl>
      {full && failed && diagnosed?.diagnosis ? (
        <div class="diagnosis" data-testid="run-diagnosis">
          <div class="diagnosis-head">
            <span class="label">Why</span>
            <ClassChip cls={diagnosed.diagnosis.class} retryable={diagnosed.diagnosis.retryable} />
            <span class="muted small">attempt {diagnosed.number}</span>
          </div>
          {rc?.text ? <p class="root-cause-text mono">{rc.text}</p> : null}
          {diagnosed.diagnosis.remediation ? <p class="remediation">Fix: {diagnosed.diagnosis.remediation}</p> : null}
          {rcComponent && rc ? (
            <a
              class="button small"
              href={runHref(run.id, 'logs', { attempt: diagnosed.number, component: rcComponent, line: rc.line })}
              data-testid="open-root-cause"
            >
              Show in logs (line {rc.line})
            </a>
          ) : null}
        </div>
      ) : null}
      {full && run.plan?.sentence ? (
        <p class="plan" data-testid="plan-sentence">
          <span class="label">Plan</span> {run.plan.sentence}
        </p>
      ) : null}
    </header>
  );
}
