// Runs: filters kept in the URL, the newest page polled live (ETag), older pages on demand.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, query } from '../api/client';
import { useNow, usePoll } from '../api/hooks';
import { useLive } from '../api/live';
import type { Definition, RunPage, RunSummary } from '../api/types';
import { RUN_STATUSES, isActiveRun } from '../api/types';
import { ErrorNotice, Loading } from '../components/common';
import { RunsTable } from '../components/RunsTable';
import {
  RANGES,
  type RunsFilter,
  type TimeRange,
  filterFromParams,
  filterToApiQuery,
  filterToParams,
  isFiltered,
  localInputToRfc3339,
} from '../lib/filters';
import { parseTime, toLocalInput } from '../lib/format';
import { navigate, runsHref, submitHref } from '../lib/route';
import { can } from '../api/auth';
import { useSettings } from '../settings';

const PAGE = 50;

export function RunsPage({ params }: { params: URLSearchParams }) {
  const filter = useMemo(() => filterFromParams(params), [params.toString()]);
  const { owner, identity } = useSettings();
  const minute = useNow(30_000);
  const path = `/runs${query(filterToApiQuery(filter, minute, PAGE))}`;
  // Live: the event stream says when something changed and the page refetches (an ETag'd GET);
  // it polls every 2 s only while the stream is not connected.
  const live = useLive('/events/stream');
  const first = usePoll<RunPage>(path, live.connected ? 0 : 2000);
  useEffect(() => {
    if (live.version > 0) first.refresh();
  }, [live.version]);
  const [more, setMore] = useState<RunSummary[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<ApiError | null>(null);

  // A new filter starts over.
  useEffect(() => {
    setMore([]);
    setCursor(undefined);
    setMoreError(null);
  }, [filter]);

  const firstRuns = first.data?.runs ?? [];
  const runs = useMemo(() => {
    const seen = new Set(firstRuns.map((r) => r.id));
    return [...firstRuns, ...more.filter((r) => !seen.has(r.id))];
  }, [firstRuns, more]);
  const nextCursor = cursor === undefined ? (first.data?.next_cursor ?? null) : cursor;
  const anyActive = runs.some((r) => isActiveRun(r.status));
  const now = useNow(1000, anyActive);

  const setFilter = (f: RunsFilter) => navigate(runsHref(filterToParams(f)), true);

  const loadMore = async () => {
    if (!nextCursor) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const q = { ...filterToApiQuery(filter, minute, PAGE), cursor: nextCursor };
      const page = await get<RunPage>(`/runs${query(q)}`);
      setMore((m) => [...m, ...page.runs]);
      setCursor(page.next_cursor);
    } catch (e) {
      setMoreError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
    } finally {
      setLoadingMore(false);
    }
  };

  const running = runs.filter((r) => isActiveRun(r.status)).length;
  return (
    <section aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Runs</h1>
        {can(identity, 'submit') ? (
          <a class="button primary" href={submitHref()} data-testid="runs-submit">
            Submit a run
          </a>
        ) : null}
      </div>
      <Filters filter={filter} owner={owner} onChange={setFilter} />
      {first.error ? <ErrorNotice error={first.error} what="Could not load runs" /> : null}
      {first.loading && !first.data ? <Loading what="runs" /> : null}
      {first.data ? (
        <>
          <p class="summary" aria-live="polite">
            {runs.length === 0
              ? isFiltered(filter)
                ? 'No runs match these filters.'
                : 'No runs yet.'
              : `${runs.length}${nextCursor ? '+' : ''} runs${running > 0 ? ` · ${running} active` : ''}`}
            <span class="live-dot" title="updates live" aria-hidden="true" />
          </p>
          {runs.length > 0 ? <RunsTable runs={runs} now={now} caption="Runs, newest first" /> : null}
          {moreError ? <ErrorNotice error={moreError} what="Could not load more runs" /> : null}
          {nextCursor ? (
            <div class="load-more">
              <button type="button" onClick={() => void loadMore()} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function Filters({
  filter,
  owner,
  onChange,
}: {
  filter: RunsFilter;
  owner: string;
  onChange: (f: RunsFilter) => void;
}) {
  const defs = usePoll<{ definitions: Definition[] }>('/definitions', 0);
  const [definition, setDefinition] = useState(filter.definition);
  const [ownerText, setOwnerText] = useState(filter.owner);
  useEffect(() => setDefinition(filter.definition), [filter.definition]);
  useEffect(() => setOwnerText(filter.owner), [filter.owner]);

  // Text fields apply after a pause in typing, or at once on Enter / leaving the field.
  const latest = useRef(filter);
  latest.current = filter;
  useEffect(() => {
    if (definition === filter.definition && ownerText === filter.owner) return undefined;
    const t = setTimeout(
      () => onChange({ ...latest.current, definition: definition.trim(), owner: ownerText.trim() }),
      400,
    );
    return () => clearTimeout(t);
  }, [definition, ownerText]);

  const apply = (e: Event) => {
    e.preventDefault();
    onChange({ ...filter, definition: definition.trim(), owner: ownerText.trim() });
  };
  const setRange = (range: TimeRange) => {
    if (range === 'custom' && !filter.from) {
      const hourAgo = new Date(Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000).toISOString();
      onChange({ ...filter, range, from: hourAgo.replace('.000Z', 'Z'), to: '' });
    } else {
      onChange({ ...filter, range });
    }
  };
  const fromMs = parseTime(filter.from);
  const toMs = parseTime(filter.to);
  return (
    <form class="filters" onSubmit={apply} role="search" aria-label="Filter runs">
      <label>
        <span>Status</span>
        <select
          value={filter.status}
          onChange={(e) => onChange({ ...filter, status: (e.currentTarget.value as RunsFilter['status']) || '' })}
          data-testid="filter-status"
        >
          <option value="">All</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.charAt(0) + s.slice(1).toLowerCase()}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Definition</span>
        <input
          type="search"
          list="definition-names"
          value={definition}
          placeholder="any"
          onInput={(e) => setDefinition(e.currentTarget.value)}
          onBlur={apply}
          data-testid="filter-definition"
        />
        <datalist id="definition-names">
          {(defs.data?.definitions ?? []).map((d) => (
            <option key={d.name} value={d.name} />
          ))}
        </datalist>
      </label>
      <label>
        <span>Owner</span>
        <input
          type="search"
          value={ownerText}
          placeholder="anyone"
          onInput={(e) => setOwnerText(e.currentTarget.value)}
          onBlur={apply}
          data-testid="filter-owner"
        />
      </label>
      {owner ? (
        <button
          type="button"
          class={`toggle${filter.owner === owner ? ' on' : ''}`}
          aria-pressed={filter.owner === owner}
          onClick={() => onChange({ ...filter, owner: filter.owner === owner ? '' : owner })}
        >
          Mine
        </button>
      ) : null}
      <label>
        <span>Created</span>
        <select value={filter.range} onChange={(e) => setRange(e.currentTarget.value as TimeRange)} data-testid="filter-range">
          {RANGES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
      </label>
      {filter.range === 'custom' ? (
        <>
          <label>
            <span>From</span>
            <input
              type="datetime-local"
              value={fromMs === null ? '' : toLocalInput(fromMs)}
              onChange={(e) => onChange({ ...filter, from: localInputToRfc3339(e.currentTarget.value) })}
            />
          </label>
          <label>
            <span>To</span>
            <input
              type="datetime-local"
              value={toMs === null ? '' : toLocalInput(toMs)}
              onChange={(e) => onChange({ ...filter, to: localInputToRfc3339(e.currentTarget.value) })}
            />
          </label>
        </>
      ) : null}
      {isFiltered(filter) ? (
        <button
          type="button"
          class="link-button"
          onClick={() => onChange({ status: '', definition: '', owner: '', range: '', from: '', to: '' })}
        >
          Clear filters
        </button>
      ) : null}
    </form>
  );
}
