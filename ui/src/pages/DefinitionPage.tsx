// One definition: its spec, recent runs and their success rate, and a way to submit it.
import { can } from '../api/auth';
import { enc, query } from '../api/client';
import { useNow, usePoll } from '../api/hooks';
import type { Definition, RunPage } from '../api/types';
import { isActiveRun } from '../api/types';
import { ErrorNotice, Loading, When } from '../components/common';
import { RunsTable } from '../components/RunsTable';
import { SpecView } from '../components/SpecView';
import { definitionsHref, runsHref, submitHref } from '../lib/route';
import { successRate } from '../lib/runinfo';
import { useSettings } from '../settings';
import { describeCpu, describeMemory } from './DefinitionsPage';

export function DefinitionPage({ name }: { name: string }) {
  const def = usePoll<Definition>(`/definitions/${enc(name)}`, 15_000);
  const runs = usePoll<RunPage>(`/runs${query({ definition: name, limit: 50 })}`, 5000);
  const list = runs.data?.runs ?? [];
  const now = useNow(1000, list.some((r) => isActiveRun(r.status)));
  const rate = successRate(list);
  const d = def.data;
  const { identity } = useSettings();
  return (
    <section aria-labelledby="def-title">
      <p class="crumbs">
        <a href={definitionsHref()}>Definitions</a> / {name}
      </p>
      <div class="page-head">
        <h1 id="def-title">
          {name}
          {d?.version ? <span class="version">v{d.version}</span> : null}
        </h1>
        {can(identity, 'submit') ? (
          <a class="button primary" href={submitHref(name)} data-testid="definition-submit">
            Submit
          </a>
        ) : null}
      </div>
      {def.error ? <ErrorNotice error={def.error} what="Could not load the definition" /> : null}
      {def.loading && !d ? <Loading what="the definition" /> : null}
      {d ? (
        <>
          {d.description ? <p class="lead">{d.description}</p> : null}
          <dl class="facts">
            <div>
              <dt>Kind</dt>
              <dd>{d.kind}</dd>
            </div>
            <div>
              <dt>Memory</dt>
              <dd>{describeMemory(d)}</dd>
            </div>
            <div>
              <dt>CPU</dt>
              <dd>{describeCpu(d)}</dd>
            </div>
            <div>
              <dt>Timeout</dt>
              <dd>{d.timeout ?? '—'}</dd>
            </div>
            <div>
              <dt>Retries</dt>
              <dd>{d.retry?.max_attempts ?? '—'} attempts</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd>
                <When at={d.created_at} now={now} />
              </dd>
            </div>
            <div>
              <dt>Success rate</dt>
              <dd data-testid="success-rate">
                {rate.rate === null
                  ? '—'
                  : `${Math.round(rate.rate * 100)}% (${rate.succeeded} of ${rate.finished} finished runs)`}
              </dd>
            </div>
          </dl>
        </>
      ) : null}
      <h2>Recent runs</h2>
      {runs.error ? <ErrorNotice error={runs.error} what="Could not load runs" /> : null}
      {runs.data && list.length === 0 ? <p class="muted">No runs of this definition yet.</p> : null}
      {list.length > 0 ? (
        <>
          <RunsTable runs={list} now={now} showDefinition={false} caption={`Recent runs of ${name}`} />
          <p>
            <a href={runsHref(new URLSearchParams({ definition: name }))}>All runs of {name} →</a>
          </p>
        </>
      ) : null}
      {d ? (
        <>
          <h2>Spec</h2>
          <SpecView value={d} label={`Definition ${name}`} testid="definition-spec" />
        </>
      ) : null}
    </section>
  );
}
