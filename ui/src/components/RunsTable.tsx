// The runs table (runs list, definition page): status, run, definition, owner, created,
// duration (live while running), attempts and the last failure's class.
import { useRowDetails } from '../api/details';
import type { RunSummary } from '../api/types';
import { isActiveRun } from '../api/types';
import { formatDuration } from '../lib/format';
import { definitionHref, navigate, runHref } from '../lib/route';
import { runDuration } from '../lib/runinfo';
import { ClassChip, StatusChip, When } from './common';

export function RunsTable({
  runs,
  now,
  showDefinition = true,
  caption,
}: {
  runs: RunSummary[];
  now: number;
  showDefinition?: boolean;
  caption: string;
}) {
  const details = useRowDetails(runs);
  return (
    <div class="table-wrap">
      <table class="runs" data-testid="runs-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Run</th>
            {showDefinition ? <th scope="col">Definition</th> : null}
            <th scope="col" class="col-owner">
              Owner
            </th>
            <th scope="col">Created</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col">Failure class</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const d = details.get(r.id);
            const active = isActiveRun(r.status);
            return (
              <tr
                key={r.id}
                data-run-id={r.id}
                data-status={r.status}
                class="clickable"
                onClick={(e) => {
                  if ((e.target as HTMLElement).closest('a, button')) return;
                  navigate(runHref(r.id));
                }}
              >
                <td>
                  <StatusChip status={r.status} small />
                  {r.stop_requested && active ? <span class="muted small"> stopping</span> : null}
                </td>
                <td class="mono">
                  <a class="run-id" href={runHref(r.id)} title={r.id}>
                    {r.id}
                  </a>
                  {r.outcome?.message && r.status !== 'SUCCEEDED' ? (
                    <div class="sub" title={r.outcome.message}>
                      {r.outcome.message}
                    </div>
                  ) : null}
                </td>
                {showDefinition ? (
                  <td>
                    <span class="nowrap">
                      <a href={definitionHref(r.definition)}>{r.definition}</a>
                      <span class="muted small"> v{r.definition_version}</span>
                    </span>
                    {r.owner ? <div class="sub only-narrow">{r.owner}</div> : null}
                  </td>
                ) : null}
                <td class="col-owner">{r.owner || <span class="muted">—</span>}</td>
                <td class="nowrap">
                  <When at={r.created_at} now={now} />
                </td>
                <td class={`num nowrap${active ? ' live' : ''}`}>{formatDuration(runDuration(r, now))}</td>
                <td class="num" data-testid="attempt-count">
                  {d ? d.attempts : <span class="muted">—</span>}
                </td>
                <td>
                  {d?.failureClass ? (
                    r.status === 'SUCCEEDED' ? (
                      <span class="recovered" title={`an earlier attempt failed (${d.failureClass}); a retry succeeded`}>
                        <ClassChip cls={d.failureClass} /> <span class="muted small">recovered</span>
                      </span>
                    ) : (
                      <ClassChip cls={d.failureClass} />
                    )
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
