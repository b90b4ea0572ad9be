// A definition or plan as YAML-like text (what users wrote with `tug apply -f`). Pure.
import { bytesToQuantity } from './format';

const PLAIN = /^[A-Za-z0-9_./@:+-][A-Za-z0-9_ ./@:+-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '') return '""';
  if (PLAIN.test(s) && !RESERVED.test(s) && !s.endsWith(' ') && !s.includes(': ')) return s;
  return JSON.stringify(s);
}

function isEmptyContainer(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

function block(v: unknown, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (typeof item === 'object' && item !== null && !isEmptyContainer(item)) {
        const sub: string[] = [];
        block(item, `${indent}  `, sub);
        out.push(`${indent}- ${sub[0]!.trimStart()}`, ...sub.slice(1));
      } else {
        out.push(`${indent}- ${inline(item)}`);
      }
    }
    return;
  }
  if (typeof v === 'object' && v !== null) {
    for (const [k, val] of Object.entries(v)) {
      const key = scalar(k);
      if (typeof val === 'string' && val.includes('\n')) {
        out.push(`${indent}${key}: |`);
        for (const line of val.replace(/\n$/, '').split('\n')) out.push(`${indent}  ${line}`);
      } else if (typeof val === 'object' && val !== null && !isEmptyContainer(val)) {
        out.push(`${indent}${key}:`);
        block(val, `${indent}  `, out);
      } else {
        out.push(`${indent}${key}: ${inline(val)}`);
      }
    }
    return;
  }
  out.push(`${indent}${inline(v)}`);
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map(inline).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    const e = Object.entries(v);
    return e.length === 0 ? '{}' : `{${e.map(([k, x]) => `${scalar(k)}: ${inline(x)}`).join(', ')}}`;
  }
  return scalar(v);
}

/** YAML-like text for a JSON value; multi-line strings become literal blocks. */
export function toYaml(v: unknown): string {
  const out: string[] = [];
  block(v, '', out);
  return out.join('\n');
}

/**
 * A definition for reading: memory in bytes (as the API returns it) written as a quantity
 * ("128Mi"), the way users write it in their YAML. Other values are kept; the input is not changed.
 */
export function readableSpec(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(readableSpec);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'resources' && typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const r = { ...(x as Record<string, unknown>) };
      if (typeof r.memory === 'number') r.memory = bytesToQuantity(r.memory);
      out[k] = readableSpec(r);
    } else {
      out[k] = readableSpec(x);
    }
  }
  return out;
}
