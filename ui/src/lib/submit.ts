// The submit form's model: form ↔ POST /api/v1/runs body, re-runs, and which field an API
// error is about. Pure. The server validates; the UI only refuses what cannot be sent at all.
import type { Run, RunOverrides } from '../api/types';
import { bytesToQuantity, formatBytes } from './format';
import { type ParamField, paramsText, parseParams } from './paramform';

export interface EnvRow {
  key: string;
  value: string;
}

export interface SubmitForm {
  definition: string;
  env: EnvRow[];
  memory: string;
  cpu: string;
  timeout: string;
  owner: string;
  /** Parameter values as typed, by name (fields from the definition's schema: paramform.ts). */
  params: Record<string, string>;
}

export type SubmitField = 'definition' | 'env' | 'memory' | 'cpu' | 'timeout' | 'owner' | 'parameters';

export interface RunRequest {
  definition: string;
  env?: Record<string, string>;
  resources?: { memory?: string | number; cpu?: string };
  timeout?: string;
  owner?: string;
  parameters?: Record<string, unknown>;
}

export type Built = { ok: true; body: RunRequest } | { ok: false; field: SubmitField; message: string };

export function emptyForm(definition = '', owner = ''): SubmitForm {
  return { definition, env: [], memory: '', cpu: '', timeout: '', owner, params: {} };
}

/**
 * The request body for the form; empty overrides are left out. `params`: the chosen
 * definition's parameter fields (typed from its schema; empty ones take the schema's defaults).
 */
export function buildRunRequest(form: SubmitForm, params: ParamField[] = []): Built {
  const definition = form.definition.trim();
  if (!definition) return { ok: false, field: 'definition', message: 'choose a definition to run' };
  const body: RunRequest = { definition };
  const env: Record<string, string> = {};
  let any = false;
  for (const row of form.env) {
    const key = row.key.trim();
    if (!key && !row.value) continue;
    if (!key) return { ok: false, field: 'env', message: `env: the value "${row.value}" has no name` };
    if (key in env) return { ok: false, field: 'env', message: `env: ${key} is set twice` };
    env[key] = row.value;
    any = true;
  }
  if (any) body.env = env;
  const memory = form.memory.trim();
  const cpu = form.cpu.trim();
  if (memory || cpu) {
    body.resources = {};
    if (memory) body.resources.memory = memory;
    if (cpu) body.resources.cpu = cpu;
  }
  const timeout = form.timeout.trim();
  if (timeout) body.timeout = timeout;
  const owner = form.owner.trim();
  if (owner) body.owner = owner;
  if (params.length > 0) {
    const parsed = parseParams(params, form.params);
    if (!parsed.ok) return { ok: false, field: 'parameters', message: parsed.message };
    if (Object.keys(parsed.parameters).length > 0) body.parameters = parsed.parameters;
  }
  return { ok: true, body };
}

/** A memory override as the form shows it: bytes → "64Mi"; strings are kept. */
export function memoryQuantity(bytes: number | string | undefined): string {
  if (bytes === undefined) return '';
  return typeof bytes === 'string' ? bytes : bytesToQuantity(bytes);
}

/** The form prefilled with a run's overrides ("re-run with changes"). */
export function formFromOverrides(definition: string, o: RunOverrides | undefined, owner: string): SubmitForm {
  return {
    definition,
    env: Object.entries(o?.env ?? {}).map(([key, value]) => ({ key, value })),
    memory: memoryQuantity(o?.resources?.memory),
    cpu: o?.resources?.cpu ?? '',
    timeout: o?.timeout ?? '',
    owner,
    params: paramsText(o?.parameters),
  };
}

/**
 * The body of a re-run: the same definition with the same overrides, by `owner`, else (when
 * `keepRunOwner`) by the run's owner. With authentication on the server names the owner (the
 * signed-in user; naming another is refused unless you are an admin): pass '' and false.
 */
export function rerunRequest(
  run: Pick<Run, 'definition' | 'overrides' | 'owner'>,
  owner: string,
  keepRunOwner = true,
): RunRequest {
  const body: RunRequest = { definition: run.definition };
  const o = run.overrides ?? {};
  if (o.env && Object.keys(o.env).length > 0) body.env = { ...o.env };
  const res = o.resources;
  if (res && (res.memory !== undefined || res.cpu !== undefined)) {
    body.resources = {};
    if (res.memory !== undefined) body.resources.memory = res.memory;
    if (res.cpu !== undefined) body.resources.cpu = res.cpu;
  }
  if (o.timeout) body.timeout = o.timeout;
  if (o.parameters && Object.keys(o.parameters).length > 0) body.parameters = { ...o.parameters };
  const who = owner.trim() || (keepRunOwner ? run.owner : '') || '';
  if (who) body.owner = who;
  return body;
}

/**
 * The form field an API validation message is about, so the message can sit next to it:
 * "resources: memory 'lots' is not a size; …" → memory.
 */
export function fieldOfError(message: string): SubmitField | null {
  const m = message.toLowerCase();
  if (/^parameters?\b/.test(m)) return 'parameters';
  if (/\bdefinition\b/.test(m) && /(not found|required)/.test(m)) return 'definition';
  if (/\bmemory\b/.test(m)) return 'memory';
  if (/\bcpu\b/.test(m)) return 'cpu';
  if (/\btimeout\b|\bduration\b/.test(m)) return 'timeout';
  if (/\benv\b/.test(m)) return 'env';
  if (/\bowner\b/.test(m)) return 'owner';
  return null;
}

/** A one-line summary of overrides: "memory 512Mi · cpu 2 · timeout 10m · env A, B". */
export function describeOverrides(o: RunOverrides | undefined): string {
  if (!o) return '';
  const parts: string[] = [];
  const mem = o.resources?.memory;
  if (mem !== undefined) parts.push(`memory ${typeof mem === 'number' ? formatBytes(mem) : mem}`);
  if (o.resources?.cpu) parts.push(`cpu ${o.resources.cpu}`);
  if (o.timeout) parts.push(`timeout ${o.timeout}`);
  const env = Object.keys(o.env ?? {});
  if (env.length > 0) parts.push(`env ${env.join(', ')}`);
  return parts.join(' · ');
}
