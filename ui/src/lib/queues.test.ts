import { describe, expect, it } from 'vitest';
import type { QueueInfo, Run } from '../api/types';
import { describePosition, describeUserLimits, formatShare, gauge, ordinal, queueGauges, queueWait, sortQueues } from './queues';

const none = { max_running: null, cpu_millis: null, memory_bytes: null, gpu: null };

function queue(over: Partial<QueueInfo>): QueueInfo {
  return {
    name: 'team-a',
    weight: 1,
    priority: 0,
    cohort: null,
    limits: none,
    per_user: none,
    usage: { cpu_millis: 0, memory_bytes: 0, gpu: 0 },
    queued: 0,
    running: 0,
    admitted: 0,
    due: 0,
    share: 0,
    blocked: null,
    ...over,
  };
}

describe('gauge', () => {
  it('says used of limit with the unit once and fills to the fraction', () => {
    expect(gauge('cpu', 1500, 2000)).toEqual({ resource: 'cpu', text: '1.5 of 2 CPU', fraction: 0.75, full: false });
    expect(gauge('memory', 2 ** 30, 4 * 2 ** 30)).toMatchObject({ text: '1 GiB of 4 GiB', fraction: 0.25 });
    expect(gauge('gpu', 2, 4).text).toBe('2 of 4 GPU');
    expect(gauge('runs', 3, 3)).toMatchObject({ text: '3 of 3 running', fraction: 1, full: true });
  });
  it('caps the fill over the limit and treats a zero limit as full', () => {
    expect(gauge('cpu', 5000, 2000)).toMatchObject({ fraction: 1, full: true });
    expect(gauge('gpu', 0, 0)).toMatchObject({ fraction: 1, full: true });
  });
  it('shows use alone without a limit', () => {
    expect(gauge('cpu', 40_000, null)).toEqual({ resource: 'cpu', text: '40 CPU, no limit', fraction: null, full: false });
    expect(gauge('runs', -1, undefined).text).toBe('0 running, no limit');
  });
});

describe('queueGauges', () => {
  it('gives CPU, memory, GPU and admitted runs against the queue limits', () => {
    const q = queue({
      limits: { max_running: 40, cpu_millis: 40_000, memory_bytes: null, gpu: 4 },
      usage: { cpu_millis: 40_000, memory_bytes: 2 * 2 ** 30, gpu: 1 },
      admitted: 12,
    });
    expect(queueGauges(q).map((g) => g.text)).toEqual(['40 of 40 CPU', '2 GiB, no limit', '1 of 4 GPU', '12 of 40 running']);
    expect(queueGauges(q)[0]!.full).toBe(true);
  });
});

describe('formatShare', () => {
  it('rounds big shares and keeps a decimal for small ones', () => {
    expect(formatShare(0.4)).toBe('40%');
    expect(formatShare(0.025)).toBe('2.5%');
    expect(formatShare(0)).toBe('0%');
    expect(formatShare(Number.NaN)).toBe('0%');
  });
});

describe('describeUserLimits', () => {
  it('lists the per-user limits or nothing', () => {
    expect(describeUserLimits({ max_running: 5, cpu_millis: 16_000, memory_bytes: 64 * 2 ** 30, gpu: null })).toBe(
      '5 running, 16 CPU, 64 GiB per user',
    );
    expect(describeUserLimits(none)).toBe('');
  });
});

describe('sortQueues', () => {
  it('puts higher priority first, then names', () => {
    const qs = [queue({ name: 'b' }), queue({ name: 'urgent', priority: 5 }), queue({ name: 'a' })];
    expect(sortQueues(qs).map((q) => q.name)).toEqual(['urgent', 'a', 'b']);
  });
});

describe('queueWait', () => {
  const base: Run = { id: 'r1', definition: 'd', definition_version: 1, status: 'QUEUED', created_at: null, attempts: [] };
  it('gives the queue, the position and the reason of a waiting run', () => {
    const w = queueWait({ ...base, queue: 'team-a', queue_position: 3, queue_reason: 'team-a: 40 of 40 CPUs in use' });
    expect(w).toEqual({ queue: 'team-a', position: 3, reason: 'team-a: 40 of 40 CPUs in use' });
    expect(describePosition(w!)).toBe('3rd in team-a');
    expect(describePosition({ ...w!, position: 1 })).toBe('next in team-a');
    expect(describePosition({ ...w!, position: null })).toBe('waiting in team-a');
  });
  it('is null for runs that do not wait on a queue', () => {
    expect(queueWait({ ...base, status: 'RUNNING', queue: 'team-a', queue_position: 1 })).toBeNull();
    expect(queueWait({ ...base, queue: 'team-a' })).toBeNull(); // queues off: no position, no reason
  });
  it('names the default queue when the server sent none', () => {
    expect(queueWait({ ...base, queue_reason: 'default: 2 of 2 running runs in use' })?.queue).toBe('default');
  });
});

describe('ordinal', () => {
  it('spells English ordinals', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal)).toEqual([
      '1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st', '111th',
    ]);
  });
});
