import { describe, expect, it } from 'vitest';
import { fieldsFromSchema, paramsText, parseParams } from './paramform';

const schema = {
  type: 'object',
  properties: {
    who: { type: 'string', title: 'Who', description: 'whom to greet', minLength: 1 },
    times: { type: 'integer', minimum: 1, maximum: 5, default: 2 },
    ratio: { type: 'number' },
    loud: { type: 'boolean', default: false },
    mode: { enum: ['fast', 'slow', 3] },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['who', 'times'],
};

describe('fieldsFromSchema', () => {
  it('makes one typed field per property, in order', () => {
    const f = fieldsFromSchema(schema);
    expect(f.map((x) => [x.name, x.kind])).toEqual([
      ['who', 'string'],
      ['times', 'integer'],
      ['ratio', 'number'],
      ['loud', 'boolean'],
      ['mode', 'enum'],
      ['tags', 'json'],
    ]);
    expect(f[0]).toMatchObject({ label: 'Who', description: 'whom to greet', required: true });
    // Required with a default: the default applies, so the field may stay empty.
    expect(f[1]).toMatchObject({ required: false, placeholder: '2', min: 1, max: 5 });
    expect(f[3]?.options).toEqual(['true', 'false']);
    expect(f[4]?.options).toEqual(['fast', 'slow', '3']);
  });

  it('gives no fields without a schema', () => {
    expect(fieldsFromSchema(undefined)).toEqual([]);
    expect(fieldsFromSchema({ type: 'object' })).toEqual([]);
  });
});

describe('parseParams', () => {
  const fields = fieldsFromSchema(schema);

  it('types what was typed and leaves empty fields to the defaults', () => {
    const r = parseParams(fields, { who: "'; rm -rf / #", times: '', ratio: '0.5', loud: 'true', mode: '3', tags: '["a"]' });
    expect(r).toEqual({
      ok: true,
      parameters: { who: "'; rm -rf / #", ratio: 0.5, loud: true, mode: 3, tags: ['a'] },
    });
    expect(parseParams(fields, { who: 'ada', mode: 'fast' })).toEqual({ ok: true, parameters: { who: 'ada', mode: 'fast' } });
  });

  it('refuses a missing required value and text that is not the type', () => {
    expect(parseParams(fields, {})).toMatchObject({ ok: false, name: 'who' });
    expect(parseParams(fields, { who: 'a', times: '2.5' })).toMatchObject({ ok: false, name: 'times' });
    expect(parseParams(fields, { who: 'a', ratio: 'fast' })).toMatchObject({ ok: false, name: 'ratio' });
    expect(parseParams(fields, { who: 'a', tags: '[unclosed' })).toMatchObject({ ok: false, name: 'tags' });
  });
});

describe('paramsText', () => {
  it('shows a run parameters as form text', () => {
    expect(paramsText({ who: 'ada', times: 3, tags: ['a'] })).toEqual({ who: 'ada', times: '3', tags: '["a"]' });
    expect(paramsText(undefined)).toEqual({});
  });
});
