// A virtualized log: only the rows in view (plus some overscan) are in the DOM, so 200k lines
// scroll like 200. Fixed row height; long lines scroll sideways. Line numbers are 1-based.
import type { Ref } from 'preact';
import { useEffect, useImperativeHandle, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { formatClock, parseTime } from '../lib/format';
import { parseStampedLine } from '../lib/logtext';
import { splitMatches } from '../lib/search';
import { atBottom, scrollTopFor, visibleRange } from '../lib/windowing';

export const ROW_HEIGHT = 20;

export interface ViewerHandle {
  /** Scrolls line `index` (0-based) into view. */
  reveal: (index: number, mode?: 'center' | 'nearest') => void;
  toBottom: () => void;
  focus: () => void;
}

export interface LogViewerProps {
  count: number;
  line: (i: number) => string;
  /** Changes whenever lines change (the buffer is mutated in place). */
  version: number;
  /** 1-based root-cause line, or null. */
  rootCause: number | null;
  /** 1-based highlighted lines. */
  highlights: ReadonlySet<number>;
  /** 0-based lines matching the search. */
  matches: ReadonlySet<number>;
  /** 0-based line of the current match, or -1. */
  current: number;
  query: string;
  follow: boolean;
  /** Called when the user scrolls away from the end while following. */
  onUnfollow: () => void;
  timestamps: boolean;
  handle: Ref<ViewerHandle>;
  label: string;
}

export function LogViewer(p: LogViewerProps) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const lastProgrammatic = useRef(0);
  const [flash, setFlash] = useState(-1);

  const scrollTo = (top: number) => {
    const el = box.current;
    if (!el) return;
    lastProgrammatic.current = performance.now();
    el.scrollTop = top;
    setScrollTop(el.scrollTop);
  };

  useImperativeHandle(p.handle, () => ({
    reveal: (index, mode = 'center') => {
      const el = box.current;
      if (!el) return;
      scrollTo(scrollTopFor(index, ROW_HEIGHT, el.clientHeight, p.count, el.scrollTop, mode));
      setFlash(index);
    },
    toBottom: () => {
      const el = box.current;
      if (el) scrollTo(el.scrollHeight);
    },
    focus: () => box.current?.focus(),
  }));

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    setHeight(el.clientHeight);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Follow: stick to the end as lines arrive.
  useLayoutEffect(() => {
    if (p.follow && box.current) scrollTo(box.current.scrollHeight);
  }, [p.version, p.count, p.follow]);

  useEffect(() => {
    if (flash < 0) return undefined;
    const t = setTimeout(() => setFlash(-1), 1600);
    return () => clearTimeout(t);
  }, [flash]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const byUser = performance.now() - lastProgrammatic.current > 150;
    if (p.follow && byUser && !atBottom(el.scrollTop, el.clientHeight, el.scrollHeight, ROW_HEIGHT)) p.onUnfollow();
  };

  const r = visibleRange({ scrollTop, viewportHeight: height, rowHeight: ROW_HEIGHT, count: p.count, overscan: 20 });
  const digits = Math.max(3, String(p.count).length);
  const rows = [];
  for (let i = r.start; i < r.end; i++) {
    const n = i + 1;
    const raw = p.line(i);
    const stamped = p.timestamps ? parseStampedLine(raw) : null;
    const text = stamped ? stamped.text : raw;
    const isRoot = p.rootCause === n;
    const cls =
      'log-line' +
      (isRoot ? ' root-cause' : p.highlights.has(n) ? ' highlight' : '') +
      (p.matches.has(i) ? ' match' : '') +
      (p.current === i ? ' current' : '') +
      (flash === i ? ' flash' : '') +
      (stamped?.stream === 'stderr' ? ' stderr' : stamped?.stream === 'tugboat' ? ' platform' : '') +
      (!stamped && raw.startsWith('[tugboat] ') ? ' platform' : '');
    rows.push(
      <div
        key={i}
        class={cls}
        data-line={n}
        data-testid={isRoot ? 'root-cause-line' : p.highlights.has(n) ? 'highlight-line' : undefined}
        aria-current={p.current === i ? 'true' : undefined}
      >
        <span class="ln" aria-hidden="true">
          {n}
        </span>
        {stamped ? (
          <span class="ts" title={stamped.at}>
            {formatClock(parseTime(stamped.at))}
          </span>
        ) : null}
        <span class="text">
          {isRoot ? <span class="sr-only">Root cause: </span> : null}
          {p.query && p.matches.has(i)
            ? splitMatches(text, p.query).map((s, k) => (s.match ? <mark key={k}>{s.text}</mark> : s.text))
            : text || ' '}
        </span>
      </div>,
    );
  }
  return (
    <div
      ref={box}
      class="log-view"
      style={{ '--ln-width': `${digits + 1}ch` }}
      tabIndex={0}
      role="region"
      aria-label={p.label}
      onScroll={onScroll}
      data-testid="log-view"
      data-lines={p.count}
    >
      <div class="log-spacer" style={{ height: `${r.totalHeight}px` }}>
        <div class="log-rows" style={{ transform: `translateY(${r.offsetY}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
