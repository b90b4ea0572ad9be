import { describe, expect, it } from 'vitest';
import {
  buildRunRequest,
  describeOverrides,
  emptyForm,
  fieldOfError,
  formFromOverrides,
  memoryQuantity,
  rerunRequest,
} from './submit';
import { fieldsFromSchema } from './paramform';

describe('buildRunRequest', () => {
  it('sends only what was filled in', () => {
    expect(buildRunRequest(emptyForm('hello'))).toEqual({ ok: true, body: { definition: 'hello' } });
  });
  it('sends overrides and the owner', () => {
    const r = buildRunRequest({
      definition: ' etl ',
      env: [
        { key: 'DAY', value: '2026-11-24' },
        { key: '', value: '' },
        { key: ' MODE ', value: 'full' },
      ],
      memory: '512Mi',
      cpu: ' 2 ',
      timeout: '10m',
      owner: 'ana',
      params: {},
    });
    expect(r).toEqual({
      ok: true,
      body: {
        definition: 'etl',
        env: { DAY: '2026-11-24', MODE: 'full' },
        resources: { memory: '512Mi', cpu: '2' },
        timeout: '10m',
        owner: 'ana',
      },
    });
  });
  it('passes bad sizes through for the server to judge', () => {
    const r = buildRunRequest({ ...emptyForm('hello'), memory: 'lots' });
    expect(r).toEqual({ ok: true, body: { definition: 'hello', resources: { memory: 'lots' } } });
  });
  it('refuses what cannot be sent', () => {
    expect(buildRunRequest(emptyForm(''))).toMatchObject({ ok: false, field: 'definition' });
    expect(buildRunRequest({ ...emptyForm('x'), env: [{ key: '', value: 'v' }] })).toMatchObject({
      ok: false,
      field: 'env',
    });
    expect(
      buildRunRequest({
        ...emptyForm('x'),
        env: [
          { key: 'A', value: '1' },
          { key: 'A', value: '2' },
        ],
      }),
    ).toMatchObject({ ok: false, field: 'env', message: 'env: A is set twice' });
  });
});

describe('re-runs', () => {
  it('repeats the overrides', () => {
    const run = {
      definition: 'etl',
      owner: 'bo',
      overrides: { env: { A: '1' }, resources: { memory: 536_870_912, cpu: '2' }, timeout: '10m' },
    };
    expect(rerunRequest(run, 'ana')).toEqual({
      definition: 'etl',
      env: { A: '1' },
      resources: { memory: 536_870_912, cpu: '2' },
      timeout: '10m',
      owner: 'ana',
    });
    expect(rerunRequest({ definition: 'etl', overrides: {} }, '')).toEqual({ definition: 'etl' });
    expect(rerunRequest({ definition: 'etl', owner: 'bo' }, ' ')).toEqual({ definition: 'etl', owner: 'bo' });
  });
  it('leaves the owner to the server when signed in (another owner would be refused)', () => {
    expect(rerunRequest({ definition: 'etl', owner: 'bo' }, '', false)).toEqual({ definition: 'etl' });
  });
  it('prefills the form from overrides', () => {
    expect(formFromOverrides('etl', { env: { A: '1' }, resources: { memory: 100_663_296 } }, 'ana')).toEqual({
      definition: 'etl',
      env: [{ key: 'A', value: '1' }],
      memory: '96Mi',
      cpu: '',
      timeout: '',
      owner: 'ana',
      params: {},
    });
  });
  it('writes memory as a quantity', () => {
    expect(memoryQuantity(67_108_864)).toBe('64Mi');
    expect(memoryQuantity(2 ** 30)).toBe('1Gi');
    expect(memoryQuantity(1.5 * 2 ** 30)).toBe('1536Mi');
    expect(memoryQuantity(1000)).toBe('1000');
    expect(memoryQuantity('2Gi')).toBe('2Gi');
    expect(memoryQuantity(undefined)).toBe('');
  });
  it('describes overrides in one line', () => {
    expect(describeOverrides({ resources: { memory: 2 ** 29, cpu: '2' }, timeout: '1h', env: { A: '1', B: '2' } })).toBe(
      'memory 512 MiB · cpu 2 · timeout 1h · env A, B',
    );
    expect(describeOverrides({})).toBe('');
  });
});

describe('fieldOfError', () => {
  it.each([
    ["resources: memory 'lots' is not a size; write e.g. 512Mi, 2Gi or 1G", 'memory'],
    ["resources: cpu 'x' is not a CPU quantity", 'cpu'],
    ["timeout: 'forever' is not a duration", 'timeout'],
    ["definition 'nope' not found; create it with `tug apply -f FILE`", 'definition'],
    ["run: env.A must be a string", 'env'],
    ['something else went wrong', null],
  ])('%s → %s', (msg, field) => {
    expect(fieldOfError(msg)).toBe(field);
  });
});

describe('parameters', () => {
  const fields = fieldsFromSchema({
    type: 'object',
    properties: { who: { type: 'string' }, times: { type: 'integer', default: 2 } },
    required: ['who'],
  });
  it('sends the typed parameters of the chosen definition', () => {
    const r = buildRunRequest({ ...emptyForm('greet'), params: { who: '$(id)', times: '3' } }, fields);
    expect(r).toEqual({ ok: true, body: { definition: 'greet', parameters: { who: '$(id)', times: 3 } } });
  });
  it('puts a parameter error on the parameters field', () => {
    expect(buildRunRequest(emptyForm('greet'), fields)).toMatchObject({ ok: false, field: 'parameters' });
    expect(fieldOfError("parameter 'times': expected number less than or equal to 5")).toBe('parameters');
  });
  it('re-runs and copies with the same parameters', () => {
    const run = { definition: 'greet', owner: 'ada', overrides: { parameters: { who: 'ada', times: 2 } } };
    expect(rerunRequest(run, '')).toMatchObject({ parameters: { who: 'ada', times: 2 } });
    expect(formFromOverrides('greet', run.overrides, '').params).toEqual({ who: 'ada', times: '2' });
  });
});
