// The submit form's parameter fields, generated from a definition's `parameters` JSON Schema
// (draft 7, type: object): one field per property, typed by its schema, with its default as the
// placeholder. Pure. The server validates against the whole schema; the form converts what is
// typed to the schema's types and refuses only text that cannot be that type.

export type ParamKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

export interface ParamField {
  name: string;
  label: string;
  description?: string;
  kind: ParamKind;
  required: boolean;
  /** The schema's default, as the form shows it ('' when none). */
  placeholder: string;
  /** enum values (as text) for kind 'enum'; ['true', 'false'] for 'boolean'. */
  options: string[];
  min?: number;
  max?: number;
}

type Schema = Record<string, unknown>;

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as the form shows it: strings as they are, the rest as JSON. */
export function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function kindOf(p: Schema): ParamKind {
  if (Array.isArray(p.enum)) return 'enum';
  const t = Array.isArray(p.type) ? p.type.filter((x) => x !== 'null') : [p.type];
  if (t.length !== 1) return 'json';
  switch (t[0]) {
    case 'string':
      return 'string';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case undefined:
      return 'string';
    default:
      return 'json';
  }
}

/** The fields of a parameters schema, in the schema's order; [] without one. */
export function fieldsFromSchema(schema: unknown): ParamField[] {
  if (!isObject(schema) || !isObject(schema.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  return Object.entries(schema.properties).map(([name, raw]) => {
    const p = isObject(raw) ? raw : {};
    const kind = kindOf(p);
    const field: ParamField = {
      name,
      label: typeof p.title === 'string' ? p.title : name,
      kind,
      required: required.has(name) && p.default === undefined,
      placeholder: valueText(p.default),
      options: kind === 'enum' ? (p.enum as unknown[]).map(valueText) : kind === 'boolean' ? ['true', 'false'] : [],
    };
    if (typeof p.description === 'string') field.description = p.description;
    if (typeof p.minimum === 'number') field.min = p.minimum;
    if (typeof p.maximum === 'number') field.max = p.maximum;
    return field;
  });
}

export type ParsedParams =
  | { ok: true; parameters: Record<string, unknown> }
  | { ok: false; name: string; message: string };

/**
 * The typed parameters for what was typed (text per field). Empty fields are left out so the
 * schema's defaults apply; a required one without a default is refused here already.
 */
export function parseParams(fields: ParamField[], values: Record<string, string>): ParsedParams {
  const parameters: Record<string, unknown> = {};
  for (const f of fields) {
    const text = values[f.name] ?? '';
    if (text.trim() === '') {
      if (f.required) return { ok: false, name: f.name, message: `parameter '${f.name}': required` };
      continue;
    }
    switch (f.kind) {
      case 'integer': {
        if (!/^-?\d+$/.test(text.trim())) {
          return { ok: false, name: f.name, message: `parameter '${f.name}': '${text}' is not a whole number` };
        }
        parameters[f.name] = Number(text.trim());
        break;
      }
      case 'number': {
        const n = Number(text.trim());
        if (!Number.isFinite(n)) {
          return { ok: false, name: f.name, message: `parameter '${f.name}': '${text}' is not a number` };
        }
        parameters[f.name] = n;
        break;
      }
      case 'boolean':
        parameters[f.name] = text === 'true';
        break;
      case 'enum':
      case 'json': {
        // Enum values keep their JSON type (3, not "3"); text that is not JSON is a string.
        try {
          parameters[f.name] = JSON.parse(text);
        } catch {
          if (f.kind === 'json') {
            return { ok: false, name: f.name, message: `parameter '${f.name}': not valid JSON` };
          }
          parameters[f.name] = text;
        }
        break;
      }
      default:
        parameters[f.name] = text;
    }
  }
  return { ok: true, parameters };
}

/** A run's parameters as form text (re-run with changes). */
export function paramsText(parameters: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parameters ?? {})) out[k] = valueText(v);
  return out;
}
