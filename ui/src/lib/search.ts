// Searching log lines. Pure; case-insensitive unless the query has an upper-case letter
// ("smart case", as in less and most editors).

export interface SearchOptions {
  /** Force case sensitivity; default: smart case. */
  caseSensitive?: boolean;
}

function sensitive(query: string, opts: SearchOptions): boolean {
  return opts.caseSensitive ?? query !== query.toLowerCase();
}

/**
 * 0-based indices of the lines in [from, count) that contain `query`, in order. Call with
 * `from` = the previous count to extend the matches as streamed lines arrive.
 */
export function findMatches(
  line: (i: number) => string,
  count: number,
  query: string,
  opts: SearchOptions = {},
  from = 0,
): number[] {
  const out: number[] = [];
  if (!query) return out;
  if (sensitive(query, opts)) {
    for (let i = from; i < count; i++) if (line(i).includes(query)) out.push(i);
  } else {
    const q = query.toLowerCase();
    for (let i = from; i < count; i++) if (line(i).toLowerCase().includes(q)) out.push(i);
  }
  return out;
}

export interface Segment {
  text: string;
  match: boolean;
}

/** Splits one line into matching and non-matching segments, for rendering <mark>s. */
export function splitMatches(text: string, query: string, opts: SearchOptions = {}): Segment[] {
  if (!query) return [{ text, match: false }];
  const cs = sensitive(query, opts);
  const hay = cs ? text : text.toLowerCase();
  const needle = cs ? query : query.toLowerCase();
  const out: Segment[] = [];
  let pos = 0;
  for (;;) {
    const at = hay.indexOf(needle, pos);
    if (at < 0) break;
    if (at > pos) out.push({ text: text.slice(pos, at), match: false });
    out.push({ text: text.slice(at, at + needle.length), match: true });
    pos = at + needle.length;
  }
  if (pos < text.length || out.length === 0) out.push({ text: text.slice(pos), match: false });
  return out;
}

/**
 * The position in `matches` to go to from `current` (a position, or -1 for none) in direction
 * `dir`, wrapping around. With no current position, the first match at or after `fromLine`
 * (dir 1) or the last one before it (dir -1). Returns -1 when there are no matches.
 */
export function stepMatch(matches: number[], current: number, dir: 1 | -1, fromLine = 0): number {
  const n = matches.length;
  if (n === 0) return -1;
  if (current >= 0 && current < n) return (current + dir + n) % n;
  if (dir === 1) {
    const i = lowerBound(matches, fromLine);
    return i < n ? i : 0;
  }
  const i = lowerBound(matches, fromLine) - 1;
  return i >= 0 ? i : n - 1;
}

/** The first index in sorted `a` whose value is >= x. */
export function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
