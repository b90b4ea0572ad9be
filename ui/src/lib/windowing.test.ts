import { describe, expect, it } from 'vitest';
import { atBottom, rowVisible, scrollTopFor, visibleRange } from './windowing';

describe('visibleRange', () => {
  it('renders only the rows in view plus overscan', () => {
    const r = visibleRange({ scrollTop: 2000, viewportHeight: 400, rowHeight: 20, count: 200_000, overscan: 5 });
    expect(r).toEqual({ start: 95, end: 126, offsetY: 1900, totalHeight: 4_000_000 });
    expect(r.end - r.start).toBeLessThan(40);
  });
  it('clamps at the top and the bottom', () => {
    expect(visibleRange({ scrollTop: -50, viewportHeight: 100, rowHeight: 20, count: 3, overscan: 2 })).toEqual({
      start: 0,
      end: 3,
      offsetY: 0,
      totalHeight: 60,
    });
    const end = visibleRange({ scrollTop: 1e9, viewportHeight: 100, rowHeight: 20, count: 1000, overscan: 0 });
    expect(end.end).toBe(1000);
    expect(end.start).toBe(995);
  });
  it('handles an empty list', () => {
    expect(visibleRange({ scrollTop: 0, viewportHeight: 300, rowHeight: 18, count: 0 })).toEqual({
      start: 0,
      end: 0,
      offsetY: 0,
      totalHeight: 0,
    });
  });
});

describe('scrollTopFor', () => {
  it('centres a row', () => {
    expect(scrollTopFor(100, 20, 400, 1000, 0)).toBe(1810);
  });
  it('clamps near the ends', () => {
    expect(scrollTopFor(2, 20, 400, 1000, 500)).toBe(0);
    expect(scrollTopFor(999, 20, 400, 1000, 0)).toBe(19_600);
  });
  it('moves the least for nearest', () => {
    expect(scrollTopFor(10, 20, 400, 1000, 100, 'nearest')).toBe(100);
    expect(scrollTopFor(30, 20, 400, 1000, 100, 'nearest')).toBe(220);
    expect(scrollTopFor(2, 20, 400, 1000, 100, 'nearest')).toBe(40);
  });
});

describe('visibility', () => {
  it('knows the bottom', () => {
    expect(atBottom(600, 400, 1000)).toBe(true);
    expect(atBottom(500, 400, 1000)).toBe(false);
  });
  it('knows whether a row is in view', () => {
    expect(rowVisible(10, 20, 100, 400)).toBe(true);
    expect(rowVisible(4, 20, 100, 400)).toBe(false);
    expect(rowVisible(25, 20, 100, 400)).toBe(false);
  });
});
