// Live data: ETag polling while the page is visible, and a ticking clock for live durations.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson } from './client';

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Fetch now (e.g. after a POST changed the resource). */
  refresh: () => void;
}

interface PollState<T> {
  path: string | null;
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
}

/**
 * GETs `path` (under /api/v1) now and then every `intervalMs` while the document is visible
 * (0: once). Sends the last ETag as If-None-Match; a 304 keeps the data. Errors keep the last
 * data, so a blip of the server does not blank the page. A null path fetches nothing.
 */
export function usePoll<T>(path: string | null, intervalMs: number): Polled<T> {
  const [state, setState] = useState<PollState<T>>({
    path,
    data: undefined,
    error: undefined,
    loading: path !== null,
  });
  const kick = useRef<() => void>(() => {});
  // Kept across interval changes, so a slower poll of the same resource starts with a 304.
  const tag = useRef<{ path: string | null; etag: string | null }>({ path: null, etag: null });

  useEffect(() => {
    if (path === null) return undefined;
    let etag: string | null = tag.current.path === path ? tag.current.etag : null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let stopped = false;
    const ctrl = new AbortController();
    setState((s) => (s.path === path ? s : { path, data: undefined, error: undefined, loading: true }));

    const schedule = () => {
      if (stopped || intervalMs <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(tick, intervalMs);
    };
    const tick = async () => {
      if (stopped || inFlight) return;
      if (document.visibilityState === 'hidden' && etag !== null) {
        schedule();
        return;
      }
      inFlight = true;
      try {
        const r = await getJson<T>(path, { etag, signal: ctrl.signal });
        if (stopped) return;
        if (r.notModified) {
          setState((s) => (s.error ? { ...s, error: undefined } : s));
        } else {
          etag = r.etag;
          tag.current = { path, etag };
          setState({ path, data: r.data, error: undefined, loading: false });
        }
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === 'AbortError')) return;
        const err = e instanceof ApiError ? e : new ApiError(0, 'client', String(e));
        setState((s) => ({ ...s, path, error: err, loading: false }));
      } finally {
        inFlight = false;
      }
      schedule();
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        void tick();
      }
    };
    kick.current = () => {
      clearTimeout(timer);
      void tick();
    };
    document.addEventListener('visibilitychange', onVisible);
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ctrl.abort();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [path, intervalMs]);

  const refresh = useCallback(() => kick.current(), []);
  const current = state.path === path;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : path !== null,
    refresh,
  };
}

/** The current time in ms, updated every `intervalMs` while `active`. */
export function useNow(intervalMs: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs, active]);
  return now;
}

/** Keeps a value in localStorage under `key` (strings only). */
export function useStored(key: string, initial: string): [string, (v: string) => void] {
  const [value, setValue] = useState<string>(() => readStored(key) ?? initial);
  const set = useCallback(
    (v: string) => {
      setValue(v);
      writeStored(key, v);
    },
    [key],
  );
  return [value, set];
}

export function readStored(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeStored(key: string, value: string): void {
  try {
    if (value) window.localStorage.setItem(key, value);
    else window.localStorage.removeItem(key);
  } catch {
    // storage may be disabled; the value lives for this page only
  }
}
