import { describe, expect, it } from 'vitest';
import {
  EMPTY_FILTER,
  filterFromParams,
  filterToApiQuery,
  filterToParams,
  isFiltered,
  localInputToRfc3339,
  normalizeTime,
  toRfc3339,
} from './filters';

describe('runs filter in the URL', () => {
  it('round-trips', () => {
    const f = {
      ...EMPTY_FILTER,
      status: 'FAILED' as const,
      definition: 'etl',
      owner: 'ana',
      range: 'custom' as const,
      from: '2026-11-24T10:00:00Z',
      to: '2026-11-24T12:00:00Z',
    };
    const p = filterToParams(f);
    expect(p.toString()).toBe(
      'status=FAILED&definition=etl&owner=ana&range=custom&from=2026-11-24T10%3A00%3A00Z&to=2026-11-24T12%3A00%3A00Z',
    );
    expect(filterFromParams(p)).toEqual(f);
  });
  it('drops unknown values', () => {
    const f = filterFromParams(new URLSearchParams('status=sleeping&range=2y&from=never'));
    expect(f).toEqual(EMPTY_FILTER);
    expect(isFiltered(f)).toBe(false);
  });
  it('accepts lower-case status', () => {
    expect(filterFromParams(new URLSearchParams('status=running')).status).toBe('RUNNING');
  });
  it('keeps custom bounds only for a custom range', () => {
    const p = filterToParams({ ...EMPTY_FILTER, range: '24h', from: '2026-11-24T10:00:00Z' });
    expect(p.toString()).toBe('range=24h');
  });
});

describe('filterToApiQuery', () => {
  const now = Date.UTC(2026, 10, 24, 12, 34, 56, 789);
  it('sends status, definition, owner and the limit', () => {
    expect(filterToApiQuery({ ...EMPTY_FILTER, status: 'RUNNING', definition: ' etl ', owner: 'ana' }, now)).toEqual({
      limit: '50',
      status: 'RUNNING',
      definition: 'etl',
      owner: 'ana',
    });
  });
  it('turns a relative range into created_after rounded to the minute', () => {
    expect(filterToApiQuery({ ...EMPTY_FILTER, range: '1h' }, now).created_after).toBe('2026-11-24T11:34:00Z');
    expect(filterToApiQuery({ ...EMPTY_FILTER, range: '7d' }, now).created_after).toBe('2026-11-17T12:34:00Z');
    // the same minute gives the same URL (so ETag polling works)
    expect(filterToApiQuery({ ...EMPTY_FILTER, range: '24h' }, now + 2000)).toEqual(
      filterToApiQuery({ ...EMPTY_FILTER, range: '24h' }, now),
    );
  });
  it('passes custom bounds', () => {
    const q = filterToApiQuery(
      { ...EMPTY_FILTER, range: 'custom', from: '2026-11-24T10:00:00Z', to: '2026-11-24T11:00:00Z' },
      now,
      20,
    );
    expect(q).toEqual({ limit: '20', created_after: '2026-11-24T10:00:00Z', created_before: '2026-11-24T11:00:00Z' });
  });
});

describe('times', () => {
  it('formats RFC 3339 UTC', () => {
    expect(toRfc3339(Date.UTC(2026, 10, 24, 10, 0, 0, 999))).toBe('2026-11-24T10:00:00Z');
    expect(normalizeTime('2026-11-24T12:00:00+02:00')).toBe('2026-11-24T10:00:00Z');
    expect(normalizeTime('soon')).toBe('');
  });
  it('reads datetime-local input as local time', () => {
    const expected = toRfc3339(new Date(2026, 10, 24, 9, 30).getTime());
    expect(localInputToRfc3339('2026-11-24T09:30')).toBe(expected);
    expect(localInputToRfc3339('24/11/2026')).toBe('');
  });
});
