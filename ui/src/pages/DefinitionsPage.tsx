// Definitions: the list, filterable by name.
import { useState } from 'preact/hooks';
import { can } from '../api/auth';
import { usePoll } from '../api/hooks';
import type { Definition } from '../api/types';
import { ErrorNotice, Loading } from '../components/common';
import { formatBytes, parseBytes } from '../lib/format';
import { definitionHref, submitHref } from '../lib/route';
import { useSettings } from '../settings';

export function describeMemory(d: Definition): string {
  if (d.kind === 'spark') {
    const sp = d.resources?.spark;
    const parts = [sp?.driver?.memory ? `driver ${sp.driver.memory}` : '', sp?.executor?.memory ? `executor ${sp.executor.memory}` : ''];
    return parts.filter(Boolean).join(', ') || '—';
  }
  const m = parseBytes(d.resources?.memory ?? null);
  return m ? formatBytes(m) : '—';
}

export function describeCpu(d: Definition): string {
  if (d.kind === 'spark') {
    const sp = d.resources?.spark;
    const n = sp?.executor?.instances;
    return [sp?.driver?.cores ? `driver ${sp.driver.cores}` : '', sp?.executor?.cores ? `executor ${n ? `${n} × ` : ''}${sp.executor.cores}` : '']
      .filter(Boolean)
      .join(', ') || '—';
  }
  return d.resources?.cpu ?? '—';
}

export function DefinitionsPage() {
  const defs = usePoll<{ definitions: Definition[] }>('/definitions', 10_000);
  const [filter, setFilter] = useState('');
  const { identity } = useSettings();
  const mayRun = can(identity, 'submit');
  const all = defs.data?.definitions ?? [];
  const f = filter.trim().toLowerCase();
  const shown = f ? all.filter((d) => d.name.toLowerCase().includes(f) || (d.description ?? '').toLowerCase().includes(f)) : all;
  return (
    <section aria-labelledby="defs-title">
      <div class="page-head">
        <h1 id="defs-title">Definitions</h1>
        <label class="inline">
          <span class="sr-only">Filter definitions</span>
          <input type="search" placeholder="Filter by name" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
      </div>
      {defs.error ? <ErrorNotice error={defs.error} what="Could not load definitions" /> : null}
      {defs.loading && !defs.data ? <Loading what="definitions" /> : null}
      {defs.data && all.length === 0 ? (
        <p class="muted">
          No definitions yet. Create one with <code>tug apply -f job.yaml</code>.
        </p>
      ) : null}
      {shown.length > 0 ? (
        <div class="table-wrap">
          <table class="defs" data-testid="definitions-table">
            <caption class="sr-only">Definitions</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Memory</th>
                <th scope="col">CPU</th>
                <th scope="col" class="col-owner">
                  Timeout
                </th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr key={d.name} data-definition={d.name}>
                  <td>
                    <a href={definitionHref(d.name)}>{d.name}</a>
                    {d.description ? <div class="sub">{d.description}</div> : null}
                  </td>
                  <td>{d.kind}</td>
                  <td class="num">{d.version ?? '—'}</td>
                  <td>{describeMemory(d)}</td>
                  <td>{describeCpu(d)}</td>
                  <td class="col-owner">{d.timeout ?? '—'}</td>
                  <td class="num">
                    {mayRun ? (
                      <a class="button small" href={submitHref(d.name)} aria-label={`Submit ${d.name}`}>
                        Submit
                      </a>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
