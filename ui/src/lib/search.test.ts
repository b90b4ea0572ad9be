import { describe, expect, it } from 'vitest';
import { findMatches, lowerBound, splitMatches, stepMatch } from './search';

const lines = ['loading features', 'Traceback (most recent call last):', 'FileNotFoundError: x', 'error: again', 'done'];
const at = (i: number) => lines[i]!;

describe('findMatches', () => {
  it('is case-insensitive for lower-case queries', () => {
    expect(findMatches(at, lines.length, 'error')).toEqual([2, 3]);
  });
  it('is case-sensitive when the query has capitals', () => {
    expect(findMatches(at, lines.length, 'Error')).toEqual([2]);
    expect(findMatches(at, lines.length, 'error', { caseSensitive: true })).toEqual([3]);
  });
  it('extends from a line (streaming)', () => {
    expect(findMatches(at, lines.length, 'e', {}, 3)).toEqual([3, 4]);
  });
  it('finds nothing for an empty query', () => {
    expect(findMatches(at, lines.length, '')).toEqual([]);
  });
  it('searches 200k lines quickly', () => {
    const big = Array.from({ length: 200_000 }, (_, i) => (i % 1000 === 7 ? `ERROR at ${i}` : `info line ${i}`));
    const t0 = performance.now();
    const m = findMatches((i) => big[i]!, big.length, 'error');
    expect(m.length).toBe(200);
    expect(m[0]).toBe(7);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('splitMatches', () => {
  it('marks every occurrence', () => {
    expect(splitMatches('Error: error', 'error')).toEqual([
      { text: 'Error', match: true },
      { text: ': ', match: false },
      { text: 'error', match: true },
    ]);
  });
  it('returns the whole line without a query or a match', () => {
    expect(splitMatches('abc', '')).toEqual([{ text: 'abc', match: false }]);
    expect(splitMatches('abc', 'z')).toEqual([{ text: 'abc', match: false }]);
    expect(splitMatches('', 'z')).toEqual([{ text: '', match: false }]);
  });
});

describe('stepMatch', () => {
  const m = [3, 10, 42];
  it('wraps around both ways', () => {
    expect(stepMatch(m, 2, 1)).toBe(0);
    expect(stepMatch(m, 0, -1)).toBe(2);
    expect(stepMatch(m, 1, 1)).toBe(2);
  });
  it('starts from the viewport when there is no current match', () => {
    expect(stepMatch(m, -1, 1, 11)).toBe(2);
    expect(stepMatch(m, -1, 1, 50)).toBe(0);
    expect(stepMatch(m, -1, -1, 11)).toBe(1);
    expect(stepMatch(m, -1, -1, 0)).toBe(2);
  });
  it('is -1 without matches', () => {
    expect(stepMatch([], -1, 1)).toBe(-1);
  });
  it('lowerBound', () => {
    expect(lowerBound(m, 0)).toBe(0);
    expect(lowerBound(m, 10)).toBe(1);
    expect(lowerBound(m, 43)).toBe(3);
  });
});
