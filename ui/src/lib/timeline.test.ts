import { describe, expect, it } from 'vitest';
import type { RunEvent, UsageSeries } from '../api/types';
import { axisMax, binaryTicks, chartData, eventKind, mergeEvents } from './timeline';

const ev = (seq: number, type = 'started'): RunEvent => ({ seq, run_id: 'r', at: null, type, message: '' });

describe('eventKind', () => {
  it('shows decisions and Kubernetes events distinctly', () => {
    expect(eventKind('decision').tone).toBe('decision');
    expect(eventKind('engine').label).toBe('Kubernetes');
  });
  it('colours an end by its outcome', () => {
    expect(eventKind('ended', 'Completed (exit 0): exited with code 0').tone).toBe('good');
    expect(eventKind('ended', 'OOMKilled (exit 137): killed by the kernel').tone).toBe('bad');
  });
  it('shows unknown types by name', () => {
    expect(eventKind('node_drained')).toEqual({ icon: '•', tone: 'neutral', label: 'node drained' });
  });
});

describe('mergeEvents', () => {
  it('appends newer pages', () => {
    const have = [ev(1), ev(2)];
    expect(mergeEvents(have, [ev(3), ev(4)]).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(mergeEvents(have, [])).toBe(have);
  });
  it('drops duplicates and sorts overlapping pages', () => {
    expect(mergeEvents([ev(1), ev(3)], [ev(2), ev(3), ev(5)]).map((e) => e.seq)).toEqual([1, 2, 3, 5]);
  });
});

describe('chartData', () => {
  const series: UsageSeries = {
    attempt_id: 'r-1',
    attempt: 1,
    component: 'main',
    memory_limit_bytes: 268_435_456,
    cpu_limit_millis: 500,
    points: [
      { at: '2026-11-24T10:00:06Z', memory_bytes: 30_000_000, cpu_millis: 400 },
      { at: '2026-11-24T10:00:05Z', memory_bytes: 10_000_000, cpu_millis: 250 },
      { at: 'bad', memory_bytes: 1, cpu_millis: 1 },
      { at: '2026-11-24T10:00:07Z', memory_bytes: null, cpu_millis: 100 },
    ],
  };
  it('orders points by time and keeps gaps', () => {
    const d = chartData(series);
    const t0 = Date.UTC(2026, 10, 24, 10, 0, 5) / 1000;
    expect(d.x).toEqual([t0, t0 + 1, t0 + 2]);
    expect(d.memory).toEqual([10_000_000, 30_000_000, null]);
    expect(d.cpu).toEqual([250, 400, 100]);
    expect(d.memoryLimit).toBe(268_435_456);
    expect(d.cpuLimit).toBe(500);
    expect(d.peakMemory).toBe(30_000_000);
    expect(d.peakCpu).toBe(400);
  });
  it('treats a missing limit as none', () => {
    const d = chartData({ ...series, memory_limit_bytes: 0, cpu_limit_millis: undefined, points: [] });
    expect(d.memoryLimit).toBe(0);
    expect(d.cpuLimit).toBe(0);
    expect(d.x).toEqual([]);
  });
  it('leaves room above the limit line', () => {
    expect(axisMax(50, 100)).toBeCloseTo(110);
    expect(axisMax(200, 100)).toBeCloseTo(220);
    expect(axisMax(0, 0)).toBe(1);
  });
});

describe('binaryTicks', () => {
  it('steps by powers of two', () => {
    const mib = 2 ** 20;
    expect(binaryTicks(281 * mib)).toEqual([0, 128 * mib, 256 * mib]);
    expect(binaryTicks(256 * mib)).toEqual([0, 64 * mib, 128 * mib, 192 * mib, 256 * mib]);
    expect(binaryTicks(3)).toEqual([0, 1, 2, 3]);
    expect(binaryTicks(0)).toEqual([0]);
  });
});
