// The jobs the end-to-end test runs for real on the local engine (cgroup limits, real OOM kills).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A success that runs ~8 s and grows its memory, so usage has several samples. */
export const SUCCESS = {
  name: 'e2e-success',
  description: 'grows a string by 8 MiB a second for 8 seconds',
  command: `perl -e '$|=1; for $i (1..8) { $x .= "x" x (8*1024*1024); print "step $i: ", length($x) >> 20, " MiB\\n"; sleep 1 }'`,
  resources: { memory: '256Mi', cpu: '500m' },
  timeout: '5m',
  retry: { max_attempts: 1 },
};

/**
 * examples/memory-hog.yaml's job (its command, read from the file so the example stays proven):
 * needs ~200 MiB but asks for 64Mi, is OOM-killed and retried with 1.5x memory until it fits.
 */
export function oomJob(sourceDir) {
  const file = join(sourceDir, 'examples', 'memory-hog.yaml');
  const text = readFileSync(file, 'utf8');
  const m = /^command: (.+)$/m.exec(text);
  if (!m) throw new Error(`${file} has no one-line "command:"`);
  return {
    name: 'e2e-oom',
    description: 'examples/memory-hog.yaml: asks for 64Mi, needs about 200Mi',
    command: m[1].trim(),
    resources: { memory: '64Mi' },
    timeout: '5m',
    retry: { max_attempts: 5 },
  };
}

/** A Python traceback after 300 lines of output: user code error, not retried. */
export const USER_ERROR = {
  name: 'e2e-user-error',
  description: 'a NameError after 300 rows',
  command: [
    "python3 - <<'PY'",
    'def featurize(row):',
    '    return row["amount"] * exchange_rate',
    'print("loading 300 rows", flush=True)',
    'for i in range(300):',
    '    print(f"row {i}: ok", flush=True)',
    'featurize({"amount": 3})',
    'PY',
  ].join('\n'),
  resources: { memory: '128Mi' },
  timeout: '5m',
};


/** A parameterised definition: the submit form builds its fields from this schema. */
export const PARAMS = {
  name: 'e2e-params',
  description: 'echoes a parameter: the form is generated from its schema',
  command: "printf 'who=%s times=%s\\n' {{ who }} {{ times }}",
  parameters: {
    type: 'object',
    properties: {
      who: { type: 'string', minLength: 1, description: 'whom to greet' },
      times: { type: 'integer', minimum: 1, maximum: 5, default: 2 },
    },
    required: ['who'],
  },
  resources: { memory: '64Mi' },
  timeout: '5m',
};
