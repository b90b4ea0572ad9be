// Shapes of the /api/v1 JSON (src/core/json.cpp, src/adapt, src/diagnose). Fields the server
// may not send yet (owner, logs, attempt_count, failure_class, usage) are optional: the UI
// never assumes them.

export type RunStatus =
  | 'QUEUED'
  | 'RUNNING'
  | 'RETRYING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'STOPPED'
  | 'LOST';

export type AttemptStatus =
  | 'QUEUED'
  | 'LAUNCHING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'STOPPED'
  | 'LOST';

export const RUN_STATUSES: RunStatus[] = [
  'QUEUED',
  'RUNNING',
  'RETRYING',
  'SUCCEEDED',
  'FAILED',
  'STOPPED',
  'LOST',
];

export interface Outcome {
  exit_code: number | null;
  reason: string;
  message: string;
}

export interface SparkRole {
  cores?: string;
  memory?: string;
  memoryOverhead?: string;
  maxResultSize?: string;
  instances?: number;
  min?: number;
  max?: number;
  dynamicAllocation?: boolean;
}

export interface Resources {
  /** Bytes (a number) in responses; a string like "512Mi" is accepted in requests. */
  memory?: number | string;
  /** "500m" or "2". */
  cpu?: string;
  spark?: { driver?: SparkRole; executor?: SparkRole };
}

export interface Placement {
  capacity?: string;
  executor_capacity?: string;
}

export interface RunOverrides {
  env?: Record<string, string>;
  resources?: Resources;
  timeout?: string;
  /** The run's parameter values (defaults filled in). */
  parameters?: Record<string, unknown>;
}

export interface Definition {
  name: string;
  version?: number;
  kind: string;
  description?: string;
  image?: string;
  command?: string | string[];
  env?: Record<string, string>;
  working_dir?: string;
  resources?: Resources;
  timeout?: string;
  retry?: {
    max_attempts?: number;
    max_infra_retries?: number;
    backoff?: { initial?: string; max?: string; multiplier?: number };
  };
  adapt?: Record<string, unknown>;
  spark?: Record<string, unknown>;
  engine?: string;
  cluster?: string;
  kubernetes?: Record<string, unknown>;
  labels?: Record<string, string>;
  /** JSON Schema of the parameters a run may pass; the command is then a template. */
  parameters?: Record<string, unknown>;
  created_at?: string | null;
}

export interface Change {
  field: string;
  from: string;
  to: string;
}

/** adapt::ToJson(Decision). */
export interface Decision {
  retry: boolean;
  delay_seconds?: number;
  resources?: Resources;
  placement?: Placement;
  rule?: string;
  class?: string;
  budget?: string;
  user_failures?: number;
  infra_failures?: number;
  changes?: Change[];
  sentence?: string;
  recommended_memory?: number | null;
}

export interface DiagnosisLine {
  component: string;
  /** 1-based; 0 when the cause comes from platform facts only. */
  line: number;
  text?: string;
}

/** diagnose::ToJson(Diagnosis). */
export interface Diagnosis {
  class: string;
  retryable?: boolean;
  root_cause?: DiagnosisLine;
  highlights?: DiagnosisLine[];
  component?: string;
  remediation?: string;
  summary?: string;
}

export interface ComponentStatus {
  name: string;
  state: string;
  pod?: string;
  node?: string;
  capacity?: string;
  exit_code?: number | null;
  reason?: string;
  message?: string;
  started_at?: string;
  ended_at?: string;
}

/** An attempt's price (src/cost): stored when it ended, estimated to now while it runs. */
export interface AttemptCost {
  usd: number;
  basis?: string;
  /** It failed or was lost: part of the run's retries' cost. */
  retry?: boolean;
  estimated?: boolean;
}

/** A run's cost (docs/api.md#cost); a listed run has only currency, total and retries. */
export interface RunCost {
  currency?: string;
  total: number;
  retries: number;
  succeeded?: number;
  /** "requested" or "used": what an attempt's share of a node is measured from. */
  basis?: string;
  /** A running attempt is priced to now at today's prices. */
  estimated?: boolean;
}

export interface Attempt {
  id: string;
  run_id: string;
  number: number;
  status: AttemptStatus;
  resources?: Resources;
  placement?: Placement;
  engine?: string;
  claimed_by?: string;
  created_at?: string | null;
  due_at?: string | null;
  launched_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  outcome?: Outcome | null;
  peak_memory?: number;
  cpu_seconds?: number;
  diagnosis?: Diagnosis | null;
  decision?: Decision | null;
  components?: ComponentStatus[] | null;
  app_id?: string;
  /** Components that have a log (newer servers). */
  logs?: string[];
  /** Newer servers: what it cost. */
  cost?: AttemptCost | null;
}

export interface RunSummary {
  id: string;
  definition: string;
  definition_version: number;
  status: RunStatus;
  owner?: string;
  created_at: string | null;
  updated_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  stop_requested?: boolean;
  outcome?: Outcome | null;
  overrides?: RunOverrides;
  /** Newer servers: the number of attempts and the last failed attempt's class. */
  attempt_count?: number;
  failure_class?: string | null;
  /** The run that submitted this one (lineage); absent for a top-level run. */
  parent_run_id?: string;
  /** Newer servers: what it cost (null: pricing off and nothing stored). */
  cost?: RunCost | null;
}

export interface Run extends RunSummary {
  spec?: Definition;
  plan?: Decision | null;
  attempts: Attempt[];
  spark_ui?: string;
}

export interface RunPage {
  runs: RunSummary[];
  next_cursor: string | null;
}

export interface RunEvent {
  seq: number;
  run_id: string;
  attempt_id?: string;
  at: string | null;
  type: string;
  message: string;
}

export interface UsagePoint {
  at: string;
  memory_bytes?: number | null;
  cpu_millis?: number | null;
}

export interface UsageSeries {
  attempt_id: string;
  attempt: number;
  component: string;
  memory_limit_bytes?: number;
  cpu_limit_millis?: number;
  points: UsagePoint[];
}

export interface Usage {
  run_id: string;
  series: UsageSeries[];
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export const TERMINAL_RUN: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'STOPPED', 'LOST']);
export const TERMINAL_ATTEMPT: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'STOPPED',
  'LOST',
]);

export function isActiveRun(status: string): boolean {
  return !TERMINAL_RUN.has(status);
}

export function isActiveAttempt(status: string): boolean {
  return !TERMINAL_ATTEMPT.has(status);
}
