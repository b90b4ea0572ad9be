// The run's merged timeline: platform lifecycle, Kubernetes (engine) events and decisions, in
// order. Polled with after=<last seq> while the run is active; ETag on an unchanged page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc, getJson, query } from '../api/client';
import type { Run, RunEvent } from '../api/types';
import { isActiveRun } from '../api/types';
import { ErrorNotice, Loading } from '../components/common';
import { attemptNumberOf, formatClock, formatDateTime, parseTime } from '../lib/format';
import { eventKind, mergeEvents } from '../lib/timeline';

const PAGE = 500;
type Filter = 'all' | 'decision' | 'engine' | 'lifecycle';

/** `live`: the run's event stream is connected and this counts its changes (null: poll). */
function useEvents(runId: string, active: boolean, live: number | null) {
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [loaded, setLoaded] = useState(false);
  const activeRef = useRef(active);
  activeRef.current = active;
  const liveRef = useRef(live);
  liveRef.current = live;
  const kick = useRef<() => void>(() => {});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    let etag: { url: string; tag: string | null } = { url: '', tag: null };
    let ended = !activeRef.current; // the run had ended when we last looked
    const ctrl = new AbortController();
    setEvents([]);
    setLoaded(false);
    const tick = async () => {
      let more = true;
      try {
        while (more && !stopped) {
          const url = `/runs/${enc(runId)}/events${query({ after: last, limit: PAGE })}`;
          const r = await getJson<{ events: RunEvent[] }>(url, {
            etag: etag.url === url ? etag.tag : null,
            signal: ctrl.signal,
          });
          if (stopped) return;
          if (r.notModified) break;
          etag = { url, tag: r.etag };
          const got = r.data.events ?? [];
          if (got.length > 0) {
            last = Math.max(last, ...got.map((e) => e.seq));
            setEvents((have) => mergeEvents(have, got));
          }
          more = got.length >= PAGE;
        }
        setError(null);
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === 'AbortError')) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
      }
      setLoaded(true);
      // While the run is active keep polling; once it ended, one last look is enough.
      // With a live stream the next look comes when it reports a change (kick).
      if (!stopped && liveRef.current === null && (activeRef.current || !ended)) {
        ended = !activeRef.current;
        timer = setTimeout(tick, document.visibilityState === 'hidden' ? 10_000 : 2000);
      }
    };
    kick.current = () => {
      clearTimeout(timer);
      void tick();
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ctrl.abort();
    };
  }, [runId]);
  // A change on the stream, or the stream dropped (null: back to polling): look now.
  const seenLive = useRef(live);
  useEffect(() => {
    if (seenLive.current === live) return;
    seenLive.current = live;
    kick.current();
  }, [live]);
  return { events, error, loaded };
}

export function EventsTab({ run, live = null }: { run: Run; live?: number | null }) {
  const { events, error, loaded } = useEvents(run.id, isActiveRun(run.status), live);
  const [filter, setFilter] = useState<Filter>('all');
  const first = parseTime(events[0]?.at);
  const shown = events.filter((e) =>
    filter === 'all'
      ? true
      : filter === 'decision'
        ? e.type === 'decision' || e.type === 'planned'
        : filter === 'engine'
          ? e.type === 'engine'
          : e.type !== 'engine' && e.type !== 'decision',
  );
  const counts = {
    all: events.length,
    decision: events.filter((e) => e.type === 'decision' || e.type === 'planned').length,
    engine: events.filter((e) => e.type === 'engine').length,
    lifecycle: events.filter((e) => e.type !== 'engine' && e.type !== 'decision').length,
  };
  const labels: Record<Filter, string> = {
    all: 'All',
    decision: 'Decisions',
    engine: 'Kubernetes',
    lifecycle: 'Lifecycle',
  };
  return (
    <section class="events-tab" aria-label="Events">
      <div class="segmented" role="group" aria-label="Show events">
        {(Object.keys(labels) as Filter[]).map((f) => (
          <button
            key={f}
            type="button"
            class={`toggle${filter === f ? ' on' : ''}`}
            aria-pressed={filter === f}
            onClick={() => setFilter(f)}
          >
            {labels[f]} <span class="count">{counts[f]}</span>
          </button>
        ))}
      </div>
      {error ? <ErrorNotice error={error} what="Could not load events" /> : null}
      {!loaded ? <Loading what="events" /> : null}
      {loaded && shown.length === 0 ? <p class="muted">No events{filter === 'all' ? ' yet' : ' of this kind'}.</p> : null}
      <ol class="events" data-testid="events">
        {shown.map((e) => {
          const k = eventKind(e.type, e.message);
          const at = parseTime(e.at);
          const n = attemptNumberOf(e.attempt_id);
          return (
            <li key={e.seq} class={`event tone-${k.tone}${e.type === 'decision' ? ' event-decision' : ''}`} data-type={e.type} data-seq={e.seq}>
              <span class="ev-time">
                <time dateTime={e.at ?? undefined} title={at === null ? '' : formatDateTime(at)}>
                  {formatClock(at)}
                </time>
                {first !== null && at !== null ? <span class="rel">+{((at - first) / 1000).toFixed(1)}s</span> : null}
              </span>
              <span class="ev-kind">
                <span class="ev-icon" aria-hidden="true">
                  {k.icon}
                </span>
                {k.label}
              </span>
              <span class="ev-attempt">{n !== null ? `#${n}` : ''}</span>
              <span class="ev-msg">{e.message}</span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
