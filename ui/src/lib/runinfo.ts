// Facts about runs and attempts for display. Pure.
import type { Attempt, Diagnosis, Resources, Run, RunSummary, SparkRole } from '../api/types';
import { formatBytes, parseBytes, spanMs } from './format';

/** Run duration: started (or created) to ended, or to `now` while it is active. */
export function runDuration(r: RunSummary, now: number): number | null {
  return spanMs(r.started_at ?? r.created_at, r.ended_at, now);
}

/** Attempt duration: started to ended (or now while it runs); null before it started. */
export function attemptDuration(a: Attempt, now: number): number | null {
  return spanMs(a.started_at, a.ended_at, now);
}

/** Time an attempt waited to start (created/due → started). */
export function attemptWait(a: Attempt, now: number): number | null {
  const from = a.due_at ?? a.created_at;
  return spanMs(from, a.started_at ?? null, now);
}

/** The most recent attempt that has a diagnosis (the one that explains a failure). */
export function lastDiagnosed(run: Run): Attempt | undefined {
  for (let i = run.attempts.length - 1; i >= 0; i--) {
    if (run.attempts[i]!.diagnosis) return run.attempts[i];
  }
  return undefined;
}

/**
 * The class of the run's last failed attempt (the summary's failure_class, else the last
 * diagnosis); a succeeded run has one when a retry recovered from it.
 */
export function failureClass(r: RunSummary | Run): string {
  if (r.failure_class) return r.failure_class;
  if ('attempts' in r && Array.isArray(r.attempts)) return lastDiagnosed(r)?.diagnosis?.class ?? '';
  return '';
}

/** Log components of an attempt: the server's list, else the usual ones for the kind. */
export function logComponents(a: Attempt | undefined, kind: string | undefined): string[] {
  if (a?.logs && a.logs.length > 0) return a.logs;
  if (kind === 'spark') {
    const out = ['driver'];
    for (const c of a?.components ?? []) {
      if (c.name !== 'driver' && !out.includes(c.name)) out.push(c.name);
    }
    return out;
  }
  return ['main'];
}

/** The component whose log holds the root cause, when the diagnosis points at a line. */
export function rootCauseComponent(d: Diagnosis | null | undefined): string | null {
  const rc = d?.root_cause;
  if (!rc || !(rc.line > 0)) return null;
  return rc.component === 'batch-container' ? 'main' : rc.component;
}

function role(name: string, r: SparkRole | undefined): string | null {
  if (!r) return null;
  const bits: string[] = [];
  if (r.instances) bits.push(`${r.instances} ×`);
  if (r.cores) bits.push(`${r.cores} cores`);
  if (r.memory) bits.push(r.memory);
  if (r.memoryOverhead) bits.push(`+${r.memoryOverhead} overhead`);
  if (r.min !== undefined || r.max !== undefined) bits.push(`(${r.min ?? 0}–${r.max ?? '∞'})`);
  if (r.maxResultSize) bits.push(`maxResultSize ${r.maxResultSize}`);
  return bits.length > 0 ? `${name} ${bits.join(' ')}` : null;
}

/** "memory 64 MiB", "cpu 500m", "driver 1 cores 4g", "executor 4 × 2 cores 8g". */
export function describeResources(r: Resources | undefined): string[] {
  if (!r) return [];
  const out: string[] = [];
  const mem = parseBytes(r.memory ?? null);
  if (mem !== null && mem > 0) out.push(`memory ${formatBytes(mem)}`);
  if (r.cpu) out.push(`cpu ${r.cpu}`);
  const d = role('driver', r.spark?.driver);
  if (d) out.push(d);
  const e = role('executor', r.spark?.executor);
  if (e) out.push(e);
  return out;
}

export interface SuccessRate {
  succeeded: number;
  failed: number;
  finished: number;
  /** 0..1, or null with no finished run. */
  rate: number | null;
}

/** Success over the finished runs among `runs` (stopped runs do not count against it). */
export function successRate(runs: RunSummary[]): SuccessRate {
  let succeeded = 0;
  let failed = 0;
  for (const r of runs) {
    if (r.status === 'SUCCEEDED') succeeded++;
    else if (r.status === 'FAILED' || r.status === 'LOST') failed++;
  }
  const finished = succeeded + failed;
  return { succeeded, failed, finished, rate: finished > 0 ? succeeded / finished : null };
}

/** Memory peak against the limit, 0..1+ (null when either is unknown). */
export function memoryUse(a: Attempt): number | null {
  const limit = parseBytes(a.resources?.memory ?? null);
  if (!limit || !a.peak_memory) return null;
  return a.peak_memory / limit;
}
