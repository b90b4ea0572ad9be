import { describe, expect, it } from 'vitest';
import { LineBuffer, lineMarks, parseLineList, parseLineNumber, parseStampedLine, sameComponent, splitLines } from './logtext';

describe('LineBuffer', () => {
  it('joins a line split across chunks', () => {
    const b = new LineBuffer();
    expect(b.push('load')).toBe(1);
    expect(b.line(0)).toBe('load');
    expect(b.push('ing features\nTrace')).toBe(2);
    expect(b.lines()).toEqual(['loading features', 'Trace']);
    b.push('back\n');
    expect(b.lines()).toEqual(['loading features', 'Traceback']);
    expect(b.length).toBe(2);
  });
  it('treats CRLF as one line end, also when split between chunks', () => {
    const b = new LineBuffer();
    b.push('a\r');
    b.push('\nb\r\nc');
    expect(b.lines()).toEqual(['a', 'b', 'c']);
  });
  it('keeps empty lines', () => {
    expect(splitLines('a\n\nb\n')).toEqual(['a', '', 'b']);
    expect(splitLines('')).toEqual([]);
    expect(splitLines('\n')).toEqual(['']);
  });
  it('streams 200k lines in many chunks with the same result as one push', () => {
    const text = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n');
    const b = new LineBuffer();
    for (let i = 0; i < text.length; i += 4093) b.push(text.slice(i, i + 4093));
    expect(b.length).toBe(200_000);
    expect(b.line(123_456)).toBe(`line 123456 ${'x'.repeat(123_456 % 50)}`);
    expect(b.line(199_999)).toBe(`line 199999 ${'x'.repeat(199_999 % 50)}`);
  });
});

describe('line headers', () => {
  it('parses the highlight list', () => {
    expect(parseLineList('9, 6,6,x,0,12')).toEqual([6, 9, 12]);
    expect(parseLineList(null)).toEqual([]);
  });
  it('parses one line number', () => {
    expect(parseLineNumber('6')).toBe(6);
    expect(parseLineNumber(' 6 ')).toBe(6);
    expect(parseLineNumber('0')).toBeNull();
    expect(parseLineNumber('-3')).toBeNull();
    expect(parseLineNumber('six')).toBeNull();
  });
});

describe('lineMarks', () => {
  const diagnosis = {
    root_cause: { component: 'batch-container', line: 6 },
    highlights: [
      { component: 'batch-container', line: 6 },
      { component: 'main', line: 3 },
      { component: 'driver', line: 40 },
    ],
  };
  it('prefers the headers', () => {
    expect(lineMarks({ rootCause: '7', highlights: '7,8' }, diagnosis, 'main')).toEqual({
      rootCause: 7,
      highlights: [7, 8],
    });
  });
  it('falls back to the diagnosis of the same component', () => {
    expect(lineMarks({ rootCause: null, highlights: null }, diagnosis, 'main')).toEqual({
      rootCause: 6,
      highlights: [3, 6],
    });
    expect(lineMarks({ rootCause: null, highlights: null }, diagnosis, 'driver')).toEqual({
      rootCause: null,
      highlights: [40],
    });
  });
  it('has no root-cause line for a platform-only cause (line 0)', () => {
    const oom = { root_cause: { component: 'main', line: 0 }, highlights: [] };
    expect(lineMarks({ rootCause: null, highlights: null }, oom, 'main')).toEqual({ rootCause: null, highlights: [] });
  });
  it('maps batch-container to main', () => {
    expect(sameComponent('batch-container', 'main')).toBe(true);
    expect(sameComponent('driver', 'main')).toBe(false);
  });
});

describe('parseStampedLine', () => {
  it('splits time, stream and text', () => {
    expect(parseStampedLine('2026-11-24T19:59:11.871420Z stderr Traceback (most recent call last):')).toEqual({
      at: '2026-11-24T19:59:11.871420Z',
      stream: 'stderr',
      text: 'Traceback (most recent call last):',
    });
    expect(parseStampedLine('2026-11-24T08:00:00.000003Z stdout ')).toEqual({
      at: '2026-11-24T08:00:00.000003Z',
      stream: 'stdout',
      text: '',
    });
  });
  it('leaves other lines alone', () => {
    expect(parseStampedLine('loading features')).toBeNull();
  });
});
