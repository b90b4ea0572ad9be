import { describe, expect, it } from 'vitest';
import { definitionHref, parseRoute, queuesHref, runHref, runsHref, submitHref } from './route';

describe('parseRoute', () => {
  it('defaults to the runs list', () => {
    expect(parseRoute('').page).toBe('runs');
    expect(parseRoute('#/').page).toBe('runs');
    const r = parseRoute('#/runs?status=FAILED&owner=ana');
    expect(r.page).toBe('runs');
    expect(r.params.get('status')).toBe('FAILED');
    expect(r.params.get('owner')).toBe('ana');
  });
  it('reads a run and its tab', () => {
    expect(parseRoute('#/runs/01abc')).toMatchObject({ page: 'run', id: '01abc', tab: 'attempts' });
    const logs = parseRoute('#/runs/01abc/logs?attempt=2&component=driver');
    expect(logs).toMatchObject({ page: 'run', id: '01abc', tab: 'logs' });
    expect(logs.params.get('attempt')).toBe('2');
    expect(parseRoute('#/runs/01abc/usage')).toMatchObject({ tab: 'usage' });
  });
  it('refuses unknown tabs and paths', () => {
    expect(parseRoute('#/runs/01abc/spark-ui').page).toBe('notfound');
    expect(parseRoute('#/runs/01abc/logs/extra').page).toBe('notfound');
    expect(parseRoute('#/nope').page).toBe('notfound');
  });
  it('reads definitions and submit', () => {
    expect(parseRoute('#/definitions')).toMatchObject({ page: 'definitions' });
    expect(parseRoute('#/definitions/my%20job')).toMatchObject({ page: 'definition', name: 'my job' });
    const s = parseRoute('#/submit?definition=hello');
    expect(s.page).toBe('submit');
    expect(s.params.get('definition')).toBe('hello');
  });
  it('reads the queues page', () => {
    expect(parseRoute(queuesHref())).toMatchObject({ page: 'queues' });
    expect(parseRoute('#/queues/team-a').page).toBe('notfound');
  });
  it('survives bad escapes', () => {
    expect(parseRoute('#/runs/%E0%A4%A').page).toBe('notfound');
  });
});

describe('hrefs', () => {
  it('builds links that parse back', () => {
    expect(runHref('01abc')).toBe('#/runs/01abc');
    expect(runHref('01abc', 'logs', { attempt: 2, component: 'main', line: undefined })).toBe(
      '#/runs/01abc/logs?attempt=2&component=main',
    );
    expect(definitionHref('a/b')).toBe('#/definitions/a%2Fb');
    expect(parseRoute(definitionHref('a/b'))).toMatchObject({ page: 'definition', name: 'a/b' });
    expect(submitHref('hello')).toBe('#/submit?definition=hello');
    expect(submitHref()).toBe('#/submit');
    expect(runsHref(new URLSearchParams('status=FAILED'))).toBe('#/runs?status=FAILED');
  });
});
