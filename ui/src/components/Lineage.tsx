// A run's place in its tree (issue 26): the parent it was submitted with and the runs that name
// it as their parent, each a link to its own page.
import { enc, query } from '../api/client';
import { usePoll } from '../api/hooks';
import type { Run, RunPage } from '../api/types';
import { isActiveRun } from '../api/types';
import { runHref } from '../lib/route';
import { StatusChip } from './common';

/** How many children the run page lists (the newest; the rest are behind "tug get runs --parent"). */
export const kChildrenShown = 50;

export function childrenPath(id: string): string {
  return `/runs${query({ parent: id, limit: kChildrenShown })}`;
}

export function Lineage({ run }: { run: Run }) {
  // Children may be submitted while the parent runs; an ended parent's list changes rarely.
  const polled = usePoll<RunPage>(childrenPath(run.id), isActiveRun(run.status) ? 5000 : 30_000);
  const children = polled.data?.runs ?? [];
  if (!run.parent_run_id && children.length === 0) return null;
  return (
    <div class="lineage" data-testid="run-lineage">
      {run.parent_run_id ? (
        <p>
          <span class="label">Parent</span>{' '}
          <a class="mono" href={runHref(run.parent_run_id)} data-testid="parent-link">
            {run.parent_run_id}
          </a>
        </p>
      ) : null}
      {children.length > 0 ? (
        <div>
          <span class="label">
            Children ({children.length}
            {polled.data?.next_cursor ? '+' : ''})
          </span>
          <ul class="children" data-testid="run-children">
            {children.map((c) => (
              <li key={c.id}>
                <a class="mono" href={runHref(c.id)} data-run={enc(c.id)}>
                  {c.id}
                </a>{' '}
                <span class="muted">{c.definition}</span> <StatusChip status={c.status} />
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
