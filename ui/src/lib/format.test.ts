import { describe, expect, it } from 'vitest';
import {
  attemptNumberOf,
  formatBytes,
  formatCpuMillis,
  formatDuration,
  formatRelative,
  parseBytes,
  parseCpuMillis,
  parseTime,
  spanMs,
} from './format';

describe('parseTime', () => {
  it('reads RFC 3339 with microseconds as UTC milliseconds', () => {
    expect(parseTime('2026-11-24T19:59:11.704119Z')).toBe(Date.UTC(2026, 10, 24, 19, 59, 11, 704));
  });
  it('applies offsets', () => {
    expect(parseTime('2026-11-24T21:00:00+02:00')).toBe(Date.UTC(2026, 10, 24, 19, 0, 0));
    expect(parseTime('2026-11-24T17:30:00-0130')).toBe(Date.UTC(2026, 10, 24, 19, 0, 0));
  });
  it('treats null, garbage and the epoch as no time', () => {
    expect(parseTime(null)).toBeNull();
    expect(parseTime('')).toBeNull();
    expect(parseTime('yesterday')).toBeNull();
    expect(parseTime('1970-01-01T00:00:00Z')).toBeNull();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [1500, '1.5s'],
    [2000, '2s'],
    [12_300, '12s'],
    [185_000, '3m 05s'],
    [2 * 3600_000 + 4 * 60_000 + 59_000, '2h 04m'],
    [3 * 86_400_000 + 4 * 3600_000, '3d 4h'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
  it('has a dash for unknown or negative', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(-5)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});

describe('spanMs', () => {
  it('measures to the end, or to now when open', () => {
    const s = '2026-11-24T10:00:00Z';
    expect(spanMs(s, '2026-11-24T10:00:07.5Z', 0)).toBe(7500);
    expect(spanMs(s, null, Date.UTC(2026, 10, 24, 10, 1, 0))).toBe(60_000);
    expect(spanMs(null, s, 0)).toBeNull();
  });
});

describe('bytes', () => {
  it.each([
    [512, '512 B'],
    [67_108_864, '64 MiB'],
    [100_663_296, '96 MiB'],
    [1.5 * 2 ** 30, '1.5 GiB'],
    [200_794_112, '191 MiB'],
    [12_345_678, '11.8 MiB'],
  ])('formatBytes(%d) = %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
  it.each([
    ['64Mi', 67_108_864],
    ['1.5Gi', 1_610_612_736],
    ['1G', 1_000_000_000],
    ['2048', 2048],
    [4096, 4096],
  ] as const)('parseBytes(%s) = %d', (q, n) => {
    expect(parseBytes(q)).toBe(n);
  });
  it('rejects what is not a size', () => {
    expect(parseBytes('lots')).toBeNull();
    expect(parseBytes('')).toBeNull();
    expect(parseBytes(undefined)).toBeNull();
  });
});

describe('cpu', () => {
  it('parses millicores and cores', () => {
    expect(parseCpuMillis('500m')).toBe(500);
    expect(parseCpuMillis('2')).toBe(2000);
    expect(parseCpuMillis('1.5')).toBe(1500);
    expect(parseCpuMillis(0.25)).toBe(250);
    expect(parseCpuMillis('fast')).toBeNull();
  });
  it('formats as CPUs', () => {
    expect(formatCpuMillis(500)).toBe('0.5 CPU');
    expect(formatCpuMillis(2000)).toBe('2 CPU');
    expect(formatCpuMillis(25)).toBe('25m CPU');
    expect(formatCpuMillis(0)).toBe('0 CPU');
  });
});

describe('formatRelative', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  it('says how long ago', () => {
    expect(formatRelative(now - 2000, now)).toBe('just now');
    expect(formatRelative(now - 42_000, now)).toBe('42s ago');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatRelative(now - 3 * 3600_000, now)).toBe('3 h ago');
    expect(formatRelative(now - 2 * 86_400_000, now)).toBe('2 d ago');
    expect(formatRelative(now + 90_000, now)).toBe('in 1 min');
  });
});

describe('attemptNumberOf', () => {
  it('takes the number after the last dash', () => {
    expect(attemptNumberOf('01m87j82nfd2e8zzgkrban04rz-3')).toBe(3);
    expect(attemptNumberOf('nodash')).toBeNull();
    expect(attemptNumberOf(undefined)).toBeNull();
  });
});
