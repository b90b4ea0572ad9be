// Events and usage for display: event kinds, merging polled pages, chart data. Pure.
import type { RunEvent, UsageSeries } from '../api/types';
import { parseTime } from './format';

export type Tone = 'neutral' | 'info' | 'good' | 'bad' | 'warn' | 'decision' | 'platform';

export interface EventKind {
  icon: string;
  tone: Tone;
  label: string;
}

const KINDS: Record<string, EventKind> = {
  submitted: { icon: '⇢', tone: 'neutral', label: 'Submitted' },
  planned: { icon: '✎', tone: 'decision', label: 'Planned' },
  claimed: { icon: '⚑', tone: 'neutral', label: 'Claimed' },
  adopted: { icon: '⚑', tone: 'neutral', label: 'Adopted' },
  launched: { icon: '↗', tone: 'info', label: 'Launched' },
  started: { icon: '▶', tone: 'info', label: 'Started' },
  ended: { icon: '■', tone: 'neutral', label: 'Ended' },
  decision: { icon: '◆', tone: 'decision', label: 'Decision' },
  engine: { icon: '☸', tone: 'platform', label: 'Kubernetes' },
  stop_requested: { icon: '⊘', tone: 'warn', label: 'Stop requested' },
  stopped: { icon: '✕', tone: 'warn', label: 'Stopped' },
  retry_dropped: { icon: '↯', tone: 'warn', label: 'Retry dropped' },
  lost: { icon: '?', tone: 'bad', label: 'Lost' },
};

/** How an event type is shown; "ended" is good or bad by its message. */
export function eventKind(type: string, message = ''): EventKind {
  const k = KINDS[type];
  if (type === 'ended' && k) {
    if (/^(completed|succeeded)\b/i.test(message) || /exit 0\b|code 0\b/.test(message)) {
      return { ...k, tone: 'good' };
    }
    return { ...k, tone: 'bad' };
  }
  return k ?? { icon: '•', tone: 'neutral', label: type.replace(/_/g, ' ') };
}

/** Events by seq, without duplicates (pages may overlap when polling with after=). */
export function mergeEvents(have: RunEvent[], incoming: RunEvent[]): RunEvent[] {
  if (incoming.length === 0) return have;
  const last = have.length > 0 ? have[have.length - 1]!.seq : -Infinity;
  if (incoming.every((e) => e.seq > last) && isSorted(incoming)) return [...have, ...incoming];
  const bySeq = new Map<number, RunEvent>();
  for (const e of have) bySeq.set(e.seq, e);
  for (const e of incoming) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function isSorted(a: RunEvent[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i]!.seq <= a[i - 1]!.seq) return false;
  return true;
}

export interface ChartData {
  /** Unix seconds. */
  x: number[];
  memory: (number | null)[];
  cpu: (number | null)[];
  memoryLimit: number;
  cpuLimit: number;
  peakMemory: number;
  peakCpu: number;
}

/** One usage series as uPlot columns; points with bad times are dropped, order kept by time. */
export function chartData(s: UsageSeries): ChartData {
  const rows: { t: number; m: number | null; c: number | null }[] = [];
  for (const p of s.points ?? []) {
    const t = parseTime(p.at);
    if (t === null) continue;
    rows.push({
      t: t / 1000,
      m: typeof p.memory_bytes === 'number' ? p.memory_bytes : null,
      c: typeof p.cpu_millis === 'number' ? p.cpu_millis : null,
    });
  }
  rows.sort((a, b) => a.t - b.t);
  let peakMemory = 0;
  let peakCpu = 0;
  for (const r of rows) {
    if (r.m !== null) peakMemory = Math.max(peakMemory, r.m);
    if (r.c !== null) peakCpu = Math.max(peakCpu, r.c);
  }
  return {
    x: rows.map((r) => r.t),
    memory: rows.map((r) => r.m),
    cpu: rows.map((r) => r.c),
    memoryLimit: Math.max(0, s.memory_limit_bytes ?? 0),
    cpuLimit: Math.max(0, s.cpu_limit_millis ?? 0),
    peakMemory,
    peakCpu,
  };
}

/** The y-axis top: room above both the data and the limit line. */
export function axisMax(peak: number, limit: number): number {
  const top = Math.max(peak, limit);
  return top > 0 ? top * 1.1 : 1;
}

/**
 * Tick values for a bytes axis from 0 to `max`: steps of a power of two (64 MiB, 128 MiB, …)
 * so labels read "64 MiB", "128 MiB" instead of "95.4 MiB"; about `target` ticks.
 */
export function binaryTicks(max: number, target = 4): number[] {
  if (!(max > 0)) return [0];
  let step = 1;
  while (max / step > target) step *= 2;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(v);
  return out;
}
