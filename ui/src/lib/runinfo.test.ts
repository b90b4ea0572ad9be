import { describe, expect, it } from 'vitest';
import type { Attempt, Run } from '../api/types';
import {
  attemptDuration,
  describeResources,
  failureClass,
  logComponents,
  memoryUse,
  rootCauseComponent,
  runDuration,
  successRate,
} from './runinfo';

const attempt = (over: Partial<Attempt>): Attempt => ({
  id: 'r-1',
  run_id: 'r',
  number: 1,
  status: 'FAILED',
  ...over,
});

const run = (over: Partial<Run>): Run => ({
  id: 'r',
  definition: 'd',
  definition_version: 1,
  status: 'FAILED',
  created_at: '2026-11-24T10:00:00Z',
  attempts: [],
  ...over,
});

describe('durations', () => {
  it('runs from start to end, live while running', () => {
    const now = Date.UTC(2026, 10, 24, 10, 5, 0);
    expect(runDuration(run({ started_at: '2026-11-24T10:00:01Z', ended_at: '2026-11-24T10:00:09Z' }), now)).toBe(8000);
    expect(runDuration(run({ status: 'RUNNING', started_at: null }), now)).toBe(300_000);
    expect(attemptDuration(attempt({ started_at: null }), now)).toBeNull();
  });
});

describe('failureClass', () => {
  it('prefers the summary field', () => {
    expect(failureClass(run({ failure_class: 'data_error' }))).toBe('data_error');
  });
  it('reads the last attempt of a full run', () => {
    const r = run({ attempts: [attempt({ diagnosis: { class: 'user_code_error' } })] });
    expect(failureClass(r)).toBe('user_code_error');
    const ok = run({
      attempts: [
        attempt({ diagnosis: { class: 'batch_container_oom' } }),
        attempt({ number: 2, status: 'SUCCEEDED', diagnosis: null }),
      ],
    });
    expect(failureClass(ok)).toBe('batch_container_oom');
    expect(failureClass(run({ status: 'SUCCEEDED', attempts: [attempt({ status: 'SUCCEEDED' })] }))).toBe('');
  });
});

describe('logComponents', () => {
  it('uses the server list, else a default by kind', () => {
    expect(logComponents(attempt({ logs: ['controller', 'driver', 'executor-1'] }), 'spark')).toEqual([
      'controller',
      'driver',
      'executor-1',
    ]);
    expect(logComponents(attempt({}), 'container')).toEqual(['main']);
    expect(
      logComponents(attempt({ components: [{ name: 'driver', state: 'x' }, { name: 'executor-2', state: 'y' }] }), 'spark'),
    ).toEqual(['driver', 'executor-2']);
    expect(logComponents(undefined, undefined)).toEqual(['main']);
  });
  it('finds the root-cause component only for a log line', () => {
    expect(rootCauseComponent({ class: 'x', root_cause: { component: 'batch-container', line: 6 } })).toBe('main');
    expect(rootCauseComponent({ class: 'x', root_cause: { component: 'main', line: 0 } })).toBeNull();
    expect(rootCauseComponent(null)).toBeNull();
  });
});

describe('resources', () => {
  it('describes containers and Spark roles', () => {
    expect(describeResources({ memory: 67_108_864, cpu: '500m' })).toEqual(['memory 64 MiB', 'cpu 500m']);
    expect(
      describeResources({
        spark: {
          driver: { cores: '1', memory: '4Gi' },
          executor: { instances: 4, cores: '2', memory: '8Gi', memoryOverhead: '1Gi' },
        },
      }),
    ).toEqual(['driver 1 cores 4Gi', 'executor 4 × 2 cores 8Gi +1Gi overhead']);
  });
  it('measures peak against the limit', () => {
    expect(memoryUse(attempt({ resources: { memory: 100 }, peak_memory: 50 }))).toBe(0.5);
    expect(memoryUse(attempt({ resources: {}, peak_memory: 50 }))).toBeNull();
  });
});

describe('successRate', () => {
  it('counts finished runs only', () => {
    const rs = [
      run({ status: 'SUCCEEDED' }),
      run({ status: 'SUCCEEDED' }),
      run({ status: 'FAILED' }),
      run({ status: 'RUNNING' }),
      run({ status: 'STOPPED' }),
    ];
    expect(successRate(rs)).toEqual({ succeeded: 2, failed: 1, finished: 3, rate: 2 / 3 });
    expect(successRate([]).rate).toBeNull();
  });
});
