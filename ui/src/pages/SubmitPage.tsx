// Submit a run: definition, overrides (env, memory, cpu, timeout) and owner. The server
// validates; its 4xx message is shown inline next to the field it is about, and the form keeps
// what was typed. A dry run previews the plan without starting anything.
import { useEffect, useRef, useState } from 'preact/hooks';
import { can } from '../api/auth';
import { ApiError, enc, get, postJson } from '../api/client';
import { usePoll } from '../api/hooks';
import type { Decision, Definition, Run } from '../api/types';
import { ErrorNotice } from '../components/common';
import { parseBytes } from '../lib/format';
import { type ParamField, fieldsFromSchema } from '../lib/paramform';
import { navigate, runHref } from '../lib/route';
import {
  type SubmitField,
  type SubmitForm,
  buildRunRequest,
  emptyForm,
  fieldOfError,
  formFromOverrides,
  memoryQuantity,
} from '../lib/submit';
import { useSettings } from '../settings';

interface Failure {
  message: string;
  field: SubmitField | null;
}

export function SubmitPage({ params }: { params: URLSearchParams }) {
  const { owner: you, setOwner, identity } = useSettings();
  // Signed in, the server makes you the owner; only an admin may name someone else, so only an
  // admin sees the field (empty: themselves). Without authentication it is the name you set.
  const ownerField = !identity || identity.role === 'admin';
  const owner = identity ? '' : you;
  const defs = usePoll<{ definitions: Definition[] }>(can(identity, 'submit') ? '/definitions' : null, 0);
  const [form, setForm] = useState<SubmitForm>(() => emptyForm(params.get('definition') ?? '', owner));
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState<'' | 'submit' | 'preview'>('');
  const [preview, setPreview] = useState<Decision | null>(null);
  const [prefillError, setPrefillError] = useState<ApiError | null>(null);
  const alertRef = useRef<HTMLDivElement>(null);

  const fromRun = params.get('from');
  useEffect(() => {
    if (!fromRun || !can(identity, 'submit')) return;
    get<Run>(`/runs/${enc(fromRun)}`)
      .then((r) => setForm(formFromOverrides(r.definition, r.overrides, owner)))
      .catch((e: unknown) => setPrefillError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e))));
  }, [fromRun]);

  const all = defs.data?.definitions ?? [];
  const chosen = all.find((d) => d.name === form.definition);
  const paramFields = fieldsFromSchema(chosen?.parameters);
  const set = (patch: Partial<SubmitForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setPreview(null);
  };

  const send = async (dryRun: boolean) => {
    setFailure(null);
    const built = buildRunRequest(form, paramFields);
    if (!built.ok) {
      setFailure({ message: built.message, field: built.field });
      return;
    }
    setBusy(dryRun ? 'preview' : 'submit');
    try {
      if (dryRun) {
        const r = await postJson<{ plan?: Decision }>('/runs?dry_run=true', built.body);
        setPreview(r.plan ?? null);
      } else {
        const run = await postJson<Run>('/runs', built.body);
        if (!identity && form.owner.trim() && form.owner.trim() !== owner) setOwner(form.owner.trim());
        navigate(runHref(run.id));
      }
    } catch (e) {
      const message = e instanceof ApiError ? e.message : String(e);
      setFailure({ message, field: fieldOfError(message) });
    } finally {
      setBusy('');
    }
  };
  useEffect(() => {
    if (failure) alertRef.current?.focus();
  }, [failure]);

  const fieldError = (f: SubmitField) =>
    failure?.field === f ? (
      <p class="field-error" id={`err-${f}`} data-testid={`field-error-${f}`}>
        {failure.message}
      </p>
    ) : null;
  const invalid = (f: SubmitField) =>
    failure?.field === f ? { 'aria-invalid': true, 'aria-describedby': `err-${f}` } : {};
  const defMemory = parseBytes(chosen?.resources?.memory ?? null);

  if (!can(identity, 'submit')) {
    return (
      <section aria-labelledby="submit-title" class="submit-page">
        <h1 id="submit-title">Submit a run</h1>
        <div class="notice notice-info" data-testid="submit-not-allowed">
          You are signed in as {identity?.user} with the role <strong>{identity?.role}</strong>, which may read runs but
          not submit them. Ask an admin for a token with the role <code>user</code>.
        </div>
      </section>
    );
  }

  return (
    <section aria-labelledby="submit-title" class="submit-page">
      <h1 id="submit-title">Submit a run</h1>
      {prefillError ? <ErrorNotice error={prefillError} what="Could not copy the run's overrides" /> : null}
      <form
        class="submit-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void send(false);
        }}
        data-testid="submit-form"
      >
        {failure ? (
          <div class="notice notice-error" role="alert" tabIndex={-1} ref={alertRef} data-testid="submit-error">
            <strong>The run was not submitted: </strong>
            {failure.message}
          </div>
        ) : null}
        <div class="field">
          <label for="f-definition">Definition</label>
          <select
            id="f-definition"
            value={form.definition}
            onChange={(e) => set({ definition: e.currentTarget.value })}
            required
            data-testid="submit-definition"
            {...invalid('definition')}
          >
            <option value="">Choose…</option>
            {form.definition && !chosen ? <option value={form.definition}>{form.definition}</option> : null}
            {all.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name} ({d.kind}, v{d.version ?? '?'})
              </option>
            ))}
          </select>
          {chosen?.description ? <p class="hint">{chosen.description}</p> : null}
          {fieldError('definition')}
        </div>
        {paramFields.length > 0 ? (
          <fieldset class="parameters" data-testid="submit-parameters">
            <legend>Parameters</legend>
            {paramFields.map((f) => (
              <ParamInput key={f.name} field={f} form={form} set={set} invalid={failure?.field === 'parameters'} />
            ))}
            {fieldError('parameters')}
          </fieldset>
        ) : null}
        <fieldset class="overrides">
          <legend>Overrides (optional)</legend>
          <div class="field-row">
            <div class="field">
              <label for="f-memory">Memory</label>
              <input
                id="f-memory"
                value={form.memory}
                onInput={(e) => set({ memory: e.currentTarget.value })}
                placeholder={defMemory ? memoryQuantity(defMemory) : 'e.g. 512Mi'}
                autoComplete="off"
                data-testid="submit-memory"
                {...invalid('memory')}
              />
              <p class="hint">e.g. 512Mi, 2Gi</p>
              {fieldError('memory')}
            </div>
            <div class="field">
              <label for="f-cpu">CPU</label>
              <input
                id="f-cpu"
                value={form.cpu}
                onInput={(e) => set({ cpu: e.currentTarget.value })}
                placeholder={chosen?.resources?.cpu ?? 'e.g. 500m or 2'}
                autoComplete="off"
                data-testid="submit-cpu"
                {...invalid('cpu')}
              />
              <p class="hint">cores: 500m, 1, 2.5</p>
              {fieldError('cpu')}
            </div>
            <div class="field">
              <label for="f-timeout">Timeout</label>
              <input
                id="f-timeout"
                value={form.timeout}
                onInput={(e) => set({ timeout: e.currentTarget.value })}
                placeholder={chosen?.timeout ?? 'e.g. 30m'}
                autoComplete="off"
                data-testid="submit-timeout"
                {...invalid('timeout')}
              />
              <p class="hint">e.g. 90s, 30m, 2h</p>
              {fieldError('timeout')}
            </div>
          </div>
          <EnvRows form={form} set={set} />
          {fieldError('env')}
        </fieldset>
        {ownerField ? (
        <div class="field">
          <label for="f-owner">Owner</label>
          <input
            id="f-owner"
            value={form.owner}
            onInput={(e) => set({ owner: e.currentTarget.value })}
            placeholder={identity ? identity.user : 'your name'}
            autoComplete="username"
            data-testid="submit-owner"
            {...invalid('owner')}
          />
          <p class="hint">
            {identity
              ? 'Leave empty to own the run yourself; as an admin you may submit for someone else.'
              : 'Remembered in this browser; runs list filters by it.'}
          </p>
          {fieldError('owner')}
        </div>
        ) : null}
        {preview ? (
          <div class="notice notice-info" data-testid="submit-preview">
            <strong>Plan: </strong>
            {preview.sentence}
          </div>
        ) : null}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy !== ''} data-testid="submit-button">
            {busy === 'submit' ? 'Submitting…' : 'Submit run'}
          </button>
          <button type="button" onClick={() => void send(true)} disabled={busy !== ''} data-testid="preview-button">
            {busy === 'preview' ? 'Checking…' : 'Preview plan'}
          </button>
        </div>
      </form>
    </section>
  );
}

// One parameter, as its schema types it: a choice for enums and booleans, a number input for
// numbers, JSON text for arrays and objects, text otherwise. Empty: the schema's default.
function ParamInput({
  field,
  form,
  set,
  invalid,
}: {
  field: ParamField;
  form: SubmitForm;
  set: (p: Partial<SubmitForm>) => void;
  invalid: boolean;
}) {
  const id = `p-${field.name}`;
  const value = form.params[field.name] ?? '';
  const update = (v: string) => set({ params: { ...form.params, [field.name]: v } });
  const common = {
    id,
    'data-testid': `param-${field.name}`,
    'aria-invalid': invalid ? true : undefined,
    'aria-describedby': invalid ? 'err-parameters' : undefined,
  };
  return (
    <div class="field">
      <label for={id}>
        {field.label}
        {field.required ? ' (required)' : ''}
      </label>
      {field.options.length > 0 ? (
        <select {...common} value={value} onChange={(e) => update(e.currentTarget.value)}>
          <option value="">{field.placeholder ? `default: ${field.placeholder}` : '—'}</option>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : (
        <input
          {...common}
          class={field.kind === 'json' ? 'mono' : undefined}
          inputMode={field.kind === 'integer' ? 'numeric' : field.kind === 'number' ? 'decimal' : undefined}
          value={value}
          placeholder={field.placeholder || (field.kind === 'json' ? 'JSON, e.g. ["a","b"]' : '')}
          onInput={(e) => update(e.currentTarget.value)}
          autoComplete="off"
        />
      )}
      {field.description || field.min !== undefined || field.max !== undefined ? (
        <p class="hint">
          {field.description}
          {field.min !== undefined || field.max !== undefined
            ? ` (${field.min ?? '…'} to ${field.max ?? '…'})`
            : ''}
        </p>
      ) : null}
    </div>
  );
}

function EnvRows({ form, set }: { form: SubmitForm; set: (p: Partial<SubmitForm>) => void }) {
  const update = (i: number, patch: Partial<{ key: string; value: string }>) =>
    set({ env: form.env.map((r, k) => (k === i ? { ...r, ...patch } : r)) });
  return (
    <div class="env">
      <div class="env-head">
        <span class="label">Environment</span>
        <button type="button" class="small" onClick={() => set({ env: [...form.env, { key: '', value: '' }] })} data-testid="env-add">
          Add variable
        </button>
      </div>
      {form.env.length === 0 ? <p class="hint">The definition's environment applies; add variables to set or override some.</p> : null}
      {form.env.map((row, i) => (
        <div class="env-row" key={i}>
          <label class="sr-only" for={`env-k-${i}`}>
            Name of variable {i + 1}
          </label>
          <input
            id={`env-k-${i}`}
            class="mono"
            value={row.key}
            placeholder="NAME"
            onInput={(e) => update(i, { key: e.currentTarget.value })}
            autoComplete="off"
          />
          <span aria-hidden="true">=</span>
          <label class="sr-only" for={`env-v-${i}`}>
            Value of variable {i + 1}
          </label>
          <input
            id={`env-v-${i}`}
            class="mono"
            value={row.value}
            placeholder="value"
            onInput={(e) => update(i, { value: e.currentTarget.value })}
            autoComplete="off"
          />
          <button
            type="button"
            class="small"
            onClick={() => set({ env: form.env.filter((_, k) => k !== i) })}
            aria-label={`Remove variable ${row.key || i + 1}`}
          >
            Remove
          </button>
        </div>
      ))}
    </div>
  );
}
