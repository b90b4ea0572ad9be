import { describe, expect, it } from 'vitest';
import { readableSpec, toYaml } from './yamlish';

describe('toYaml', () => {
  it('writes a definition like the file a user applies', () => {
    const text = toYaml({
      name: 'traceback',
      kind: 'container',
      command: 'python3 - <<PY\nprint(1)\nPY\n',
      env: { GREETING: 'hi there', EMPTY: '', NUM: '42' },
      resources: { memory: 268435456, cpu: '500m' },
      retry: { max_attempts: 3, backoff: { multiplier: 4 } },
      labels: {},
      args: ['--day', '2026-11-24'],
      tolerations: [{ key: 'dedicated', value: 'spark' }],
    });
    expect(text).toBe(
      [
        'name: traceback',
        'kind: container',
        'command: |',
        '  python3 - <<PY',
        '  print(1)',
        '  PY',
        'env:',
        '  GREETING: hi there',
        '  EMPTY: ""',
        '  NUM: "42"',
        'resources:',
        '  memory: 268435456',
        '  cpu: 500m',
        'retry:',
        '  max_attempts: 3',
        '  backoff:',
        '    multiplier: 4',
        'labels: {}',
        'args:',
        '  - --day',
        '  - 2026-11-24',
        'tolerations:',
        '  - key: dedicated',
        '    value: spark',
      ].join('\n'),
    );
  });
  it('quotes what YAML would misread', () => {
    expect(toYaml({ a: 'true', b: 'x: y', c: null, d: "it's" })).toBe('a: "true"\nb: "x: y"\nc: null\nd: "it\'s"');
  });
});

describe('readableSpec', () => {
  it('writes memory as a quantity, wherever resources appear', () => {
    const spec = { name: 'x', resources: { memory: 134217728, cpu: '500m' }, plan: { resources: { memory: 1000 } } };
    expect(readableSpec(spec)).toEqual({
      name: 'x',
      resources: { memory: '128Mi', cpu: '500m' },
      plan: { resources: { memory: '1000' } },
    });
    expect(spec.resources.memory).toBe(134217728);
  });
});
