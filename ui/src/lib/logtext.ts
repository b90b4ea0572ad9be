// Log text as lines: incremental splitting of a streamed body and the highlight headers. Pure.

/**
 * Accumulates streamed text into lines. A chunk may end inside a line; that partial line is
 * shown as the last line until its newline arrives. "\r\n" counts as one line end.
 */
export class LineBuffer {
  private readonly done: string[] = [];
  private partial = '';

  /** Appends a chunk; returns the number of lines now known (complete + partial). */
  push(chunk: string): number {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      let line = chunk.slice(start, nl);
      if (start === 0 && this.partial) {
        line = this.partial + line;
        this.partial = '';
      }
      this.done.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    if (start < chunk.length) this.partial += chunk.slice(start);
    return this.length;
  }

  /** Complete lines plus the partial last line, if any. */
  get length(): number {
    return this.done.length + (this.partial ? 1 : 0);
  }

  /** Line `i` (0-based). */
  line(i: number): string {
    if (i < this.done.length) return this.done[i]!;
    if (i === this.done.length && this.partial) return stripCR(this.partial);
    return '';
  }

  /** A snapshot of all lines (for tests and small logs). */
  lines(): string[] {
    return this.partial ? [...this.done, stripCR(this.partial)] : [...this.done];
  }
}

function stripCR(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

/** Splits a whole text into lines (a trailing newline does not add an empty line). */
export function splitLines(text: string): string[] {
  const b = new LineBuffer();
  b.push(text);
  return b.lines();
}

/** "6, 9,12" → [6, 9, 12]: positive integers only, sorted, without duplicates. */
export function parseLineList(header: string | null | undefined): number[] {
  if (!header) return [];
  const out = new Set<number>();
  for (const part of header.split(',')) {
    const n = parseLineNumber(part);
    if (n !== null) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** A 1-based line number from a header value, or null (0, negative or not a number). */
export function parseLineNumber(value: string | null | undefined): number | null {
  if (!value) return null;
  const t = value.trim();
  if (!/^\d{1,10}$/.test(t)) return null;
  const n = Number(t);
  return n > 0 ? n : null;
}

export interface LineMarks {
  /** 1-based root-cause line of this component, or null. */
  rootCause: number | null;
  /** 1-based lines to mark (root cause included when the server lists it). */
  highlights: number[];
}

/**
 * The marks of one component's log: from the response headers when present, else from the
 * attempt's diagnosis (same numbering: lines of the text without timestamps).
 */
export function lineMarks(
  headers: { rootCause: string | null; highlights: string | null },
  diagnosis:
    | {
        root_cause?: { component: string; line: number } | undefined;
        highlights?: { component: string; line: number }[] | undefined;
      }
    | null
    | undefined,
  component: string,
): LineMarks {
  let rootCause = parseLineNumber(headers.rootCause);
  let highlights = parseLineList(headers.highlights);
  if (rootCause === null && diagnosis?.root_cause && sameComponent(diagnosis.root_cause.component, component)) {
    rootCause = diagnosis.root_cause.line > 0 ? diagnosis.root_cause.line : null;
  }
  if (highlights.length === 0 && diagnosis?.highlights) {
    highlights = [
      ...new Set(
        diagnosis.highlights
          .filter((h) => sameComponent(h.component, component) && h.line > 0)
          .map((h) => h.line),
      ),
    ].sort((a, b) => a - b);
  }
  return { rootCause, highlights };
}

/**
 * The diagnoser names a batch job's log "batch-container" in places where the log store calls
 * it "main"; both mean the job's own output.
 */
export function sameComponent(a: string, b: string): boolean {
  const norm = (s: string) => (s === 'batch-container' ? 'main' : s);
  return norm(a) === norm(b);
}

export interface StampedLine {
  /** The RFC 3339 time the line was written. */
  at: string;
  stream: 'stdout' | 'stderr' | 'tugboat' | string;
  text: string;
}

/** A line as served with timestamps=true: "<RFC 3339> <stream> <text>"; null otherwise. */
export function parseStampedLine(line: string): StampedLine | null {
  const m = /^(\d{4}-\d{2}-\d{2}T[0-9:.]+Z) ([a-z0-9-]+) ?(.*)$/.exec(line);
  if (!m) return null;
  return { at: m[1]!, stream: m[2]!, text: m[3]! };
}
