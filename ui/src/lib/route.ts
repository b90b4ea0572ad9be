// Hash routing: the server's own paths (/runs/{id}/spark-ui/ is the Spark UI proxy) stay out of
// the way. Routes:
//   #/runs?status=&definition=&owner=&range=&from=&to=
//   #/runs/<id>[/attempts|/logs|/events|/usage|/definition][?attempt=&component=&line=]
//   #/definitions        #/definitions/<name>        #/submit?definition=<name>[&from=<run>]
//   #/queues
// Pure.

export type RunTab = 'attempts' | 'logs' | 'events' | 'usage' | 'definition';
export const RUN_TABS: RunTab[] = ['attempts', 'logs', 'events', 'usage', 'definition'];

export type Route =
  | { page: 'runs'; params: URLSearchParams }
  | { page: 'run'; id: string; tab: RunTab; params: URLSearchParams }
  | { page: 'definitions'; params: URLSearchParams }
  | { page: 'definition'; name: string; params: URLSearchParams }
  | { page: 'submit'; params: URLSearchParams }
  | { page: 'queues'; params: URLSearchParams }
  | { page: 'notfound'; path: string; params: URLSearchParams };

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function parseRoute(hash: string): Route {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!h.startsWith('/')) h = `/${h}`;
  const qAt = h.indexOf('?');
  const path = qAt >= 0 ? h.slice(0, qAt) : h;
  const params = new URLSearchParams(qAt >= 0 ? h.slice(qAt + 1) : '');
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0) return { page: 'runs', params };
  const [head, second, third, ...rest] = parts;
  if (head === 'runs') {
    if (second === undefined) return { page: 'runs', params };
    const id = decode(second);
    if (id === null || rest.length > 0) return { page: 'notfound', path, params };
    if (third === undefined) return { page: 'run', id, tab: 'attempts', params };
    if ((RUN_TABS as string[]).includes(third)) {
      return { page: 'run', id, tab: third as RunTab, params };
    }
    return { page: 'notfound', path, params };
  }
  if (head === 'definitions') {
    if (second === undefined) return { page: 'definitions', params };
    const name = decode(second);
    if (name === null || third !== undefined) return { page: 'notfound', path, params };
    return { page: 'definition', name, params };
  }
  if (head === 'submit' && second === undefined) return { page: 'submit', params };
  if (head === 'queues' && second === undefined) return { page: 'queues', params };
  return { page: 'notfound', path, params };
}

function withQuery(path: string, params?: URLSearchParams | Record<string, string | number | undefined>): string {
  if (!params) return `#${path}`;
  const p =
    params instanceof URLSearchParams
      ? params
      : new URLSearchParams(
          Object.entries(params)
            .filter(([, v]) => v !== undefined && v !== '')
            .map(([k, v]) => [k, String(v)]),
        );
  const s = p.toString();
  return s ? `#${path}?${s}` : `#${path}`;
}

export function runsHref(params?: URLSearchParams): string {
  return withQuery('/runs', params);
}

export function runHref(
  id: string,
  tab: RunTab = 'attempts',
  params?: Record<string, string | number | undefined>,
): string {
  const base = `/runs/${encodeURIComponent(id)}`;
  return withQuery(tab === 'attempts' ? base : `${base}/${tab}`, params);
}

export function definitionsHref(): string {
  return '#/definitions';
}

export function definitionHref(name: string): string {
  return `#/definitions/${encodeURIComponent(name)}`;
}

export function queuesHref(): string {
  return '#/queues';
}

export function submitHref(definition?: string, fromRun?: string): string {
  return withQuery('/submit', { definition, from: fromRun });
}

/** Navigates (adds a history entry) unless the hash is already `href`. */
export function navigate(href: string, replace = false): void {
  if (window.location.hash === href) return;
  if (replace) {
    window.history.replaceState(null, '', href);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    window.location.hash = href.slice(1);
  }
}
