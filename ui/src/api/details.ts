// Attempt counts and failure classes for runs list rows when the server's summaries do not
// carry them (older servers): each run's detail is fetched once per update, a few at a time.
import { useEffect, useRef, useState } from 'preact/hooks';
import { enc, get } from './client';
import type { Run, RunSummary } from './types';
import { failureClass } from '../lib/runinfo';

export interface RowDetail {
  attempts: number;
  failureClass: string;
}

const cache = new Map<string, { updated: string; detail: RowDetail }>();
const PARALLEL = 3;

function key(r: RunSummary): string {
  return `${r.updated_at ?? ''}|${r.status}`;
}

/** Details by run id for the rows that need them; complete summaries need nothing. */
export function useRowDetails(runs: RunSummary[]): Map<string, RowDetail> {
  const [, setVersion] = useState(0);
  const queued = useRef(new Set<string>());
  useEffect(() => {
    const need = runs.filter((r) => r.attempt_count === undefined && cache.get(r.id)?.updated !== key(r));
    if (need.length === 0) return undefined;
    let stopped = false;
    const todo = need.filter((r) => !queued.current.has(r.id));
    const worker = async () => {
      for (;;) {
        const r = todo.shift();
        if (!r || stopped) return;
        queued.current.add(r.id);
        try {
          const full = await get<Run>(`/runs/${enc(r.id)}`);
          cache.set(r.id, {
            updated: key(r),
            detail: { attempts: full.attempts.length, failureClass: failureClass(full) },
          });
          if (!stopped) setVersion((v) => v + 1);
        } catch {
          // the row shows a dash
        } finally {
          queued.current.delete(r.id);
        }
      }
    };
    for (let i = 0; i < PARALLEL; i++) void worker();
    return () => {
      stopped = true;
    };
  }, [runs]);
  const out = new Map<string, RowDetail>();
  for (const r of runs) {
    if (r.attempt_count !== undefined) {
      out.set(r.id, { attempts: r.attempt_count, failureClass: r.failure_class ?? '' });
    } else {
      const c = cache.get(r.id);
      if (c) out.set(r.id, c.detail);
    }
  }
  return out;
}
