// Team queues for people: usage against a limit, shares, and where a waiting run stands. Pure.
import type { QueueInfo, QueueLimits, Run } from '../api/types';
import { formatBytes, formatCpuMillis } from './format';

export type Resource = 'cpu' | 'memory' | 'gpu' | 'runs';

/** A resource's use against its limit: text ("1.5 of 2 CPU", "3 GiB, no limit") and fill. */
export interface Gauge {
  resource: Resource;
  text: string;
  /** used / limit in 0..1 (capped), null without a limit. */
  fraction: number | null;
  /** At or over the limit. */
  full: boolean;
}

function amount(resource: Resource, v: number): string {
  switch (resource) {
    case 'cpu':
      return formatCpuMillis(v);
    case 'memory':
      return formatBytes(v);
    case 'gpu':
      return `${v} GPU`;
    default:
      return `${v} running`;
  }
}

export function gauge(resource: Resource, used: number, limit: number | null | undefined): Gauge {
  const u = Number.isFinite(used) && used > 0 ? used : 0;
  if (limit === null || limit === undefined || !Number.isFinite(limit) || limit < 0) {
    return { resource, text: `${amount(resource, u)}, no limit`, fraction: null, full: false };
  }
  // "1.5 of 2 CPU": the unit once, on the limit.
  const usedText = resource === 'memory' ? formatBytes(u) : resource === 'cpu' ? String(Number((u / 1000).toFixed(2))) : String(u);
  const fraction = limit === 0 ? 1 : Math.min(1, u / limit);
  return { resource, text: `${usedText} of ${amount(resource, limit)}`, fraction, full: u >= limit };
}

/** The four gauges of a queue: CPU, memory, GPU, running runs (admitted attempts). */
export function queueGauges(q: QueueInfo): Gauge[] {
  return [
    gauge('cpu', q.usage.cpu_millis, q.limits.cpu_millis),
    gauge('memory', q.usage.memory_bytes, q.limits.memory_bytes),
    gauge('gpu', q.usage.gpu, q.limits.gpu),
    gauge('runs', q.admitted, q.limits.max_running),
  ];
}

/** "40%", "2.5%", "0%": a weighted dominant share. */
export function formatShare(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share) || share <= 0) return '0%';
  const pct = share * 100;
  return `${pct >= 10 ? Math.round(pct) : Number(pct.toFixed(1))}%`;
}

/** "max 5 running, 16 CPU, 64 GiB each" — a per-user limit; "" when there is none. */
export function describeUserLimits(l: QueueLimits): string {
  const parts: string[] = [];
  if (l.max_running !== null) parts.push(`${l.max_running} running`);
  if (l.cpu_millis !== null) parts.push(formatCpuMillis(l.cpu_millis));
  if (l.memory_bytes !== null) parts.push(formatBytes(l.memory_bytes));
  if (l.gpu !== null) parts.push(`${l.gpu} GPU`);
  return parts.length > 0 ? `${parts.join(', ')} per user` : '';
}

/** Queues by priority (highest first), then name: the order the dispatcher serves them in. */
export function sortQueues(qs: QueueInfo[]): QueueInfo[] {
  return [...qs].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
}

/** Where a run waiting for its queue stands; null when it does not wait on one. */
export interface QueueWait {
  queue: string;
  position: number | null;
  reason: string;
}

export function queueWait(run: Run): QueueWait | null {
  if (run.status !== 'QUEUED' && run.status !== 'RETRYING') return null;
  const position = run.queue_position && run.queue_position > 0 ? run.queue_position : null;
  const reason = run.queue_reason ?? '';
  if (position === null && !reason) return null;
  return { queue: run.queue || 'default', position, reason };
}

/** "next in team-a", "3rd in team-a". */
export function describePosition(w: QueueWait): string {
  if (w.position === null) return `waiting in ${w.queue}`;
  if (w.position === 1) return `next in ${w.queue}`;
  return `${ordinal(w.position)} in ${w.queue}`;
}

export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}
