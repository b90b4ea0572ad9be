// Logs of one attempt and component: tabs per component, follow mode, search with next/prev,
// the root-cause line highlighted with a jump to it. Keys: "/" search, "e" jump to error.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { API, enc, query } from '../api/client';
import type { Run } from '../api/types';
import { isActiveAttempt } from '../api/types';
import { ClassChip, ErrorNotice, StatusChip } from '../components/common';
import { TabList } from '../components/Tabs';
import { LogViewer, type ViewerHandle } from '../logs/LogViewer';
import { useLogStream } from '../logs/stream';
import { lineMarks, parseLineNumber, sameComponent } from '../lib/logtext';
import { navigate, runHref } from '../lib/route';
import { logComponents } from '../lib/runinfo';
import { findMatches, stepMatch } from '../lib/search';

function typingIn(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

export function LogsTab({ run, params }: { run: Run; params: URLSearchParams }) {
  const last = run.attempts[run.attempts.length - 1];
  const wanted = Number(params.get('attempt') ?? '');
  const attempt = run.attempts.find((a) => a.number === wanted) ?? last;
  if (!attempt) return <p class="muted">No attempts yet, so no logs.</p>;
  return <AttemptLogs key={attempt.id} run={run} attemptNo={attempt.number} params={params} />;
}

function AttemptLogs({ run, attemptNo, params }: { run: Run; attemptNo: number; params: URLSearchParams }) {
  const attempt = run.attempts.find((a) => a.number === attemptNo)!;
  const components = logComponents(attempt, run.spec?.kind);
  const rc = attempt.diagnosis?.root_cause;
  const rcComponent = rc && rc.line > 0 ? components.find((c) => sameComponent(rc.component, c)) : undefined;
  const asked = params.get('component') ?? '';
  const component = components.includes(asked) ? asked : (rcComponent ?? components[0]!);
  const live = isActiveAttempt(attempt.status);
  const [follow, setFollow] = useState(live);
  const [timestamps, setTimestamps] = useState(false);
  const stream = useLogStream(run.id, attemptNo, component, live, timestamps);
  const viewer = useRef<ViewerHandle>(null);
  const search = useRef<HTMLInputElement>(null);
  const count = stream.buffer.length;
  const line = (i: number) => stream.buffer.line(i);

  const marks = lineMarks(
    { rootCause: stream.rootCauseHeader, highlights: stream.highlightsHeader },
    attempt.diagnosis,
    component,
  );
  const highlights = useMemo(() => new Set(marks.highlights), [marks.highlights.join(',')]);

  // Search: recomputed when the query changes, extended as lines stream in.
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [matches, setMatches] = useState<{ buf: unknown; q: string; upTo: number; lines: number[] }>({
    buf: null,
    q: '',
    upTo: 0,
    lines: [],
  });
  const [pos, setPos] = useState(-1);
  // The typing pause's timer; Enter cancels it (it searched already, and the timer's setPos(-1)
  // would undo the match Enter moved to).
  const typingPause = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (text === q) return undefined;
    const t = setTimeout(() => {
      setQ(text);
      setPos(-1);
    }, 150);
    typingPause.current = t;
    return () => clearTimeout(t);
  }, [text]);
  useEffect(() => {
    setMatches((m) => {
      const buf = stream.buffer;
      if (m.buf === buf && m.q === q && m.upTo <= count) {
        // The last line may have been partial: search again from it.
        const from = Math.max(0, m.upTo - 1);
        const kept = m.lines.filter((i) => i < from);
        return { buf, q, upTo: count, lines: kept.concat(findMatches(line, count, q, {}, from)) };
      }
      return { buf, q, upTo: count, lines: findMatches(line, count, q) };
    });
  }, [q, stream.version, count, stream.buffer]);
  useEffect(() => setPos(-1), [component]);
  const matchSet = useMemo(() => new Set(matches.lines), [matches]);

  const go = (dir: 1 | -1, list = matches.lines, from = pos) => {
    const p = stepMatch(list, from, dir);
    if (p < 0) return;
    setPos(p);
    setFollow(false);
    viewer.current?.reveal(list[p]!, 'center');
  };
  // Enter before the typing pause ends: search now.
  const searchNow = (dir: 1 | -1) => {
    if (text === q) {
      go(dir);
      return;
    }
    clearTimeout(typingPause.current);
    const lines = findMatches(line, count, text);
    setQ(text);
    setMatches({ buf: stream.buffer, q: text, upTo: count, lines });
    go(dir, lines, -1);
  };

  const jumpToError = () => {
    if (marks.rootCause === null) return;
    setFollow(false);
    viewer.current?.reveal(marks.rootCause - 1, 'center');
  };

  // A link with line=N (from the run header or an attempt card) opens at that line.
  const askedLine = parseLineNumber(params.get('line'));
  const jumped = useRef('');
  useEffect(() => {
    const key = `${component}:${askedLine}`;
    if (askedLine === null || jumped.current === key) return;
    if (count >= askedLine || stream.status === 'done') {
      jumped.current = key;
      setFollow(false);
      viewer.current?.reveal(Math.min(askedLine, count) - 1, 'center');
    }
  }, [askedLine, count, stream.status, component]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
      if (e.key === '/') {
        e.preventDefault();
        search.current?.focus();
        search.current?.select();
      } else if (e.key === 'e' && marks.rootCause !== null) {
        e.preventDefault();
        jumpToError();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  });

  const select = (attemptNumber: number, comp: string) =>
    navigate(runHref(run.id, 'logs', { attempt: attemptNumber, component: comp }), true);

  const download = `${API}/runs/${enc(run.id)}/logs${query({ attempt: attemptNo, component })}`;
  const panelId = 'log-panel';
  return (
    <section class="logs" aria-label="Logs">
      <div class="logs-bar">
        <label class="inline">
          <span>Attempt</span>
          <select
            value={String(attemptNo)}
            onChange={(e) => select(Number(e.currentTarget.value), '')}
            data-testid="log-attempt"
          >
            {run.attempts.map((a) => (
              <option key={a.id} value={a.number}>
                #{a.number} {a.status.toLowerCase()}
                {a.diagnosis?.class ? ` · ${a.diagnosis.class}` : ''}
              </option>
            ))}
          </select>
        </label>
        <StatusChip status={attempt.status} small />
        <TabList
          label="Log components"
          items={components.map((c) => ({ id: c, label: c === rcComponent ? `${c} ●` : c }))}
          selected={component}
          onSelect={(c) => select(attemptNo, c)}
          controls={panelId}
          testid="log-components"
        />
      </div>
      {attempt.diagnosis ? (
        <div class="log-cause" data-testid="log-cause">
          <ClassChip cls={attempt.diagnosis.class} retryable={attempt.diagnosis.retryable} />
          {rc?.text ? <span class="mono root-cause-text">{rc.text}</span> : null}
          {rc && rc.line > 0 ? (
            <span class="muted small">
              line {rc.line} of {rcComponent ?? rc.component}
            </span>
          ) : rc ? (
            <span class="muted small">from the platform (no log line)</span>
          ) : null}
          {rcComponent && rcComponent !== component ? (
            <a class="button small" href={runHref(run.id, 'logs', { attempt: attemptNo, component: rcComponent, line: rc?.line })}>
              Open {rcComponent}
            </a>
          ) : null}
        </div>
      ) : null}
      <div class="logs-tools" role="toolbar" aria-label="Log tools">
        <div class="search-box">
          <label for="log-search" class="sr-only">
            Search the log
          </label>
          <input
            id="log-search"
            ref={search}
            type="search"
            placeholder="Search  ( / )"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                searchNow(e.shiftKey ? -1 : 1);
              } else if (e.key === 'Escape') {
                setText('');
                viewer.current?.focus();
              }
            }}
            data-testid="log-search"
          />
          <span class="match-count" aria-live="polite" data-testid="match-count">
            {q ? (matches.lines.length === 0 ? 'no matches' : `${pos >= 0 ? pos + 1 : '–'} of ${matches.lines.length}`) : ''}
          </span>
          <button type="button" onClick={() => go(-1)} disabled={matches.lines.length === 0} aria-label="Previous match">
            ↑
          </button>
          <button type="button" onClick={() => go(1)} disabled={matches.lines.length === 0} aria-label="Next match">
            ↓
          </button>
        </div>
        <button
          type="button"
          class="error-button"
          onClick={jumpToError}
          disabled={marks.rootCause === null}
          title={marks.rootCause === null ? 'no root-cause line in this log' : `line ${marks.rootCause} (key: e)`}
          data-testid="jump-to-error"
        >
          Jump to error{marks.rootCause !== null ? ` (line ${marks.rootCause})` : ''}
        </button>
        <button
          type="button"
          class={`toggle${follow ? ' on' : ''}`}
          aria-pressed={follow}
          onClick={() => {
            const on = !follow;
            setFollow(on);
            if (on) viewer.current?.toBottom();
          }}
          data-testid="follow-toggle"
        >
          Follow
        </button>
        <button type="button" class={`toggle${timestamps ? ' on' : ''}`} aria-pressed={timestamps} onClick={() => setTimestamps(!timestamps)}>
          Timestamps
        </button>
        <a class="button" href={download} download={`${run.id}-${attemptNo}-${component}.log`}>
          Download
        </a>
      </div>
      {stream.error ? <ErrorNotice error={stream.error} what="Could not read the log" /> : null}
      <div id={panelId} role="tabpanel" aria-label={`${component} log`}>
        <LogViewer
          handle={viewer}
          count={count}
          line={line}
          version={stream.version}
          rootCause={marks.rootCause}
          highlights={highlights}
          matches={matchSet}
          current={pos >= 0 ? (matches.lines[pos] ?? -1) : -1}
          query={q}
          follow={follow}
          onUnfollow={() => setFollow(false)}
          timestamps={timestamps}
          label={`${component} log of attempt ${attemptNo}, ${count} lines`}
        />
      </div>
      <p class="log-status muted small" data-testid="log-status" data-state={stream.status}>
        {count.toLocaleString()} lines
        {stream.status === 'streaming' ? ' · streaming…' : stream.status === 'loading' ? ' · loading…' : ''}
        {marks.highlights.length > 0 ? ` · ${marks.highlights.length} highlighted` : ''}
        {count === 0 && stream.status === 'done' ? ' · this component wrote nothing' : ''}
      </p>
    </section>
  );
}
