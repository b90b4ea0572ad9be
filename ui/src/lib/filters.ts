// The runs list's filters: kept in the URL hash (shareable links) and turned into the
// GET /api/v1/runs query. Pure.
import { RUN_STATUSES, type RunStatus } from '../api/types';

export type TimeRange = '' | '1h' | '24h' | '7d' | 'custom';

export interface RunsFilter {
  status: RunStatus | '';
  definition: string;
  owner: string;
  range: TimeRange;
  /** Custom range bounds, RFC 3339 UTC ("2026-11-24T10:00:00Z"); empty when open. */
  from: string;
  to: string;
}

export const EMPTY_FILTER: RunsFilter = {
  status: '',
  definition: '',
  owner: '',
  range: '',
  from: '',
  to: '',
};

const RANGE_MS: Record<string, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
};

export const RANGES: { value: TimeRange; label: string }[] = [
  { value: '', label: 'Any time' },
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: 'custom', label: 'Custom…' },
];

export function filterFromParams(p: URLSearchParams): RunsFilter {
  const status = (p.get('status') ?? '').toUpperCase();
  const range = p.get('range') ?? '';
  return {
    status: (RUN_STATUSES as string[]).includes(status) ? (status as RunStatus) : '',
    definition: p.get('definition') ?? '',
    owner: p.get('owner') ?? '',
    range: range === '1h' || range === '24h' || range === '7d' || range === 'custom' ? range : '',
    from: normalizeTime(p.get('from') ?? ''),
    to: normalizeTime(p.get('to') ?? ''),
  };
}

/** The hash query for a filter: only the fields that are set, in a stable order. */
export function filterToParams(f: RunsFilter): URLSearchParams {
  const p = new URLSearchParams();
  if (f.status) p.set('status', f.status);
  if (f.definition) p.set('definition', f.definition);
  if (f.owner) p.set('owner', f.owner);
  if (f.range) p.set('range', f.range);
  if (f.range === 'custom') {
    if (f.from) p.set('from', f.from);
    if (f.to) p.set('to', f.to);
  }
  return p;
}

/** True when any filter is set. */
export function isFiltered(f: RunsFilter): boolean {
  return !!(f.status || f.definition || f.owner || f.range);
}

/**
 * The API query for the filter. Relative ranges start at `now` minus the range, rounded down
 * to the minute so the polled URL (and its ETag) stays the same for a minute.
 */
export function filterToApiQuery(f: RunsFilter, now: number, limit = 50): Record<string, string> {
  const q: Record<string, string> = { limit: String(limit) };
  if (f.status) q.status = f.status;
  if (f.definition) q.definition = f.definition.trim();
  if (f.owner) q.owner = f.owner.trim();
  const span = RANGE_MS[f.range];
  if (span !== undefined) {
    const after = Math.floor((now - span) / 60_000) * 60_000;
    q.created_after = toRfc3339(after);
  } else if (f.range === 'custom') {
    if (f.from) q.created_after = f.from;
    if (f.to) q.created_before = f.to;
  }
  return q;
}

/** "2026-11-24T10:00:00Z" (UTC, whole seconds). */
export function toRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** An RFC 3339 UTC string from user or URL input (any parsable time), or "" if invalid. */
export function normalizeTime(s: string): string {
  if (!s) return '';
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? toRfc3339(ms) : '';
}

/** A datetime-local input's value (local time) as RFC 3339 UTC, or "". */
export function localInputToRfc3339(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v)) return '';
  const ms = new Date(v).getTime(); // no zone: local time
  return Number.isFinite(ms) ? toRfc3339(ms) : '';
}
