// Streams one component's log of one attempt into a LineBuffer: GET /api/v1/runs/{id}/logs,
// read with a ReadableStream (follow=true while the attempt is active, which the server ends
// when the attempt ends). A follow cut short (the server's time limit) reconnects and skips
// what was already read: logs only grow.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, ApiError, apiFetch, enc, errorFrom, query } from '../api/client';
import { LineBuffer } from '../lib/logtext';

export type StreamStatus = 'loading' | 'streaming' | 'done' | 'error';

export interface LogStream {
  buffer: LineBuffer;
  /** Bumped whenever lines arrive (throttled), so views re-render. */
  version: number;
  status: StreamStatus;
  error: ApiError | null;
  /** X-Tug-Root-Cause-Line / X-Tug-Highlight-Lines of the response. */
  rootCauseHeader: string | null;
  highlightsHeader: string | null;
}

const FLUSH_MS = 80;

export function useLogStream(
  runId: string,
  attempt: number,
  component: string,
  live: boolean,
  timestamps: boolean,
): LogStream {
  const liveRef = useRef(live);
  liveRef.current = live;
  const [state, setState] = useState<LogStream>(() => initial());

  useEffect(() => {
    const ctrl = new AbortController();
    const buffer = new LineBuffer();
    let stopped = false;
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    setState({ ...initial(), buffer });
    const flush = () => {
      if (flushTimer !== undefined || stopped) return;
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        if (!stopped) setState((s) => ({ ...s, version: s.version + 1 }));
      }, FLUSH_MS);
    };

    const read = async () => {
      let seen = 0; // characters already in the buffer, skipped on a reconnect
      for (let round = 0; !stopped; round++) {
        const follow = liveRef.current;
        const url = `${API}/runs/${enc(runId)}/logs${query({
          attempt,
          component,
          follow: follow ? 'true' : undefined,
          timestamps: timestamps ? 'true' : undefined,
        })}`;
        const resp = await apiFetch(url, { signal: ctrl.signal, cache: 'no-store' });
        if (!resp.ok) {
          const err = await errorFrom(resp);
          if (!stopped) setState((s) => ({ ...s, status: 'error', error: err }));
          return;
        }
        const rootCauseHeader = resp.headers.get('X-Tug-Root-Cause-Line');
        const highlightsHeader = resp.headers.get('X-Tug-Highlight-Lines');
        setState((s) => ({ ...s, status: follow ? 'streaming' : 'loading', rootCauseHeader, highlightsHeader }));
        const decoder = new TextDecoder();
        let skip = seen;
        const take = (text: string) => {
          if (skip > 0) {
            const n = Math.min(skip, text.length);
            skip -= n;
            text = text.slice(n);
          }
          if (text) {
            buffer.push(text);
            seen += text.length;
            flush();
          }
        };
        if (resp.body) {
          const reader = resp.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            take(decoder.decode(value, { stream: true }));
          }
        } else {
          take(await resp.text());
        }
        take(decoder.decode());
        if (!follow || !liveRef.current) break;
        // Still active by the last poll: the follow ended early, or the end was just noticed.
        await new Promise((r) => setTimeout(r, Math.min(5000, 1000 * (round + 1))));
      }
      if (!stopped) {
        clearTimeout(flushTimer);
        flushTimer = undefined;
        setState((s) => ({ ...s, status: 'done', version: s.version + 1 }));
      }
    };
    read().catch((e: unknown) => {
      if (stopped || (e instanceof DOMException && e.name === 'AbortError')) return;
      const err = e instanceof ApiError ? e : new ApiError(0, 'unreachable', 'the log stream broke off; reload to retry');
      setState((s) => ({ ...s, status: 'error', error: err, version: s.version + 1 }));
    });
    return () => {
      stopped = true;
      clearTimeout(flushTimer);
      ctrl.abort();
    };
  }, [runId, attempt, component, timestamps]);

  return state;
}

function initial(): LogStream {
  return {
    buffer: new LineBuffer(),
    version: 0,
    status: 'loading',
    error: null,
    rootCauseHeader: null,
    highlightsHeader: null,
  };
}
