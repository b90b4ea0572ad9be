// Live updates: the server's event streams (docs/api.md "Live updates") read with fetch() and a
// ReadableStream, not EventSource: EventSource cannot send the Authorization header, and the
// API takes the token from the header only (the tug_token cookie is for the Spark UI proxy).
// A dropped stream reconnects with Last-Event-ID, so nothing is missed or seen twice.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, apiFetch, errorFrom } from './client';

export interface SseMessage {
  id: string;
  event: string;
  data: string;
}

/** Incremental text/event-stream parser (WHATWG rules), fed text cut anywhere. */
export class SseParser {
  lastEventId = '';
  retry: number | null = null;
  private line = '';
  private afterCr = false;
  private data: string[] | null = null;
  private event = '';

  feed(text: string, onMessage: (m: SseMessage) => void): void {
    for (const c of text) {
      if (c === '\n' && this.afterCr) {
        this.afterCr = false;
        continue;
      }
      this.afterCr = c === '\r';
      if (c === '\r' || c === '\n') {
        const line = this.line;
        this.line = '';
        this.takeLine(line, onMessage);
      } else {
        this.line += c;
      }
    }
  }

  private takeLine(line: string, onMessage: (m: SseMessage) => void): void {
    if (line === '') {
      if (this.data !== null) {
        onMessage({ id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.data = null;
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') (this.data ??= []).push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) this.lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

export interface FollowOptions {
  signal: AbortSignal;
  onMessage: (m: SseMessage) => void;
  /** Connected (true) or dropped and about to retry (false). */
  onState?: (connected: boolean) => void;
  /** Between reconnects, in ms (the stream's `retry` field wins). */
  retryMs?: number;
}

/**
 * Reads the stream at `path` (under /api/v1) until aborted, or until the server ends it with an
 * `end` message (resolves then). Reconnects after a drop with the last id as Last-Event-ID.
 * Rejects with the ApiError of a 4xx answer (the stream is not for this caller).
 */
export async function followStream(path: string, opts: FollowOptions): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for (;;) {
    let ended = false;
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (parser.lastEventId) headers['Last-Event-ID'] = parser.lastEventId;
      const resp = await apiFetch(API + path, { headers, cache: 'no-store', signal: opts.signal });
      if (resp.status >= 400 && resp.status < 500) throw await errorFrom(resp);
      if (resp.ok && resp.body) {
        opts.onState?.(true);
        const reader = resp.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }), (m) => {
            if (m.event === 'end') ended = true;
            else opts.onMessage(m);
          });
          if (ended) {
            await reader.cancel();
            break;
          }
        }
      }
    } catch (e) {
      if (opts.signal.aborted) return;
      if (e instanceof Error && e.name === 'ApiError') throw e;
    }
    if (ended || opts.signal.aborted) return;
    opts.onState?.(false);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, parser.retry ?? opts.retryMs ?? 2000);
      opts.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (opts.signal.aborted) return;
  }
}

export interface Live {
  /** The stream is open: the page need not poll. */
  connected: boolean;
  /** Bumped (at most every `throttleMs`) when changes arrived. */
  version: number;
}

/**
 * Follows the event stream at `path` (null: none) and counts the changes, so a page refetches
 * what it shows when something changed instead of polling on a timer.
 */
export function useLive(path: string | null, throttleMs = 250): Live {
  const [live, setLive] = useState<Live>({ connected: false, version: 0 });
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    setLive({ connected: false, version: 0 });
    if (path === null) return undefined;
    const ctrl = new AbortController();
    const bump = () => {
      if (pending.current !== undefined) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        if (!ctrl.signal.aborted) setLive((l) => ({ ...l, version: l.version + 1 }));
      }, throttleMs);
    };
    followStream(path, {
      signal: ctrl.signal,
      onMessage: bump,
      onState: (connected) => setLive((l) => (l.connected === connected ? l : { ...l, connected })),
    })
      .then(() => setLive((l) => ({ ...l, connected: false })))
      .catch(() => setLive((l) => ({ ...l, connected: false })));
    return () => {
      ctrl.abort();
      clearTimeout(pending.current);
      pending.current = undefined;
    };
  }, [path, throttleMs]);
  return live;
}
