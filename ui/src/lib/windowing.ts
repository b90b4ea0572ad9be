// Virtual scrolling math for fixed-height rows. Pure.

export interface WindowInput {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  count: number;
  /** Extra rows rendered above and below the viewport. */
  overscan?: number;
}

export interface WindowRange {
  /** First rendered row (0-based, inclusive). */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** translateY of the first rendered row. */
  offsetY: number;
  /** Height of the whole list. */
  totalHeight: number;
}

export function visibleRange(w: WindowInput): WindowRange {
  const rowHeight = Math.max(1, w.rowHeight);
  const count = Math.max(0, Math.floor(w.count));
  const overscan = Math.max(0, w.overscan ?? 10);
  const totalHeight = count * rowHeight;
  const maxScroll = Math.max(0, totalHeight - w.viewportHeight);
  const top = Math.min(Math.max(0, w.scrollTop), maxScroll);
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(0, w.viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end: Math.max(start, end), offsetY: start * rowHeight, totalHeight };
}

/**
 * The scrollTop that shows row `index`: centred (for jumps to an error or a search match), or
 * the smallest move that brings it into view ("nearest", for keyboard stepping).
 */
export function scrollTopFor(
  index: number,
  rowHeight: number,
  viewportHeight: number,
  count: number,
  currentTop: number,
  mode: 'center' | 'nearest' = 'center',
): number {
  const maxScroll = Math.max(0, count * rowHeight - viewportHeight);
  const rowTop = index * rowHeight;
  let top: number;
  if (mode === 'center') {
    top = rowTop - (viewportHeight - rowHeight) / 2;
  } else if (rowTop < currentTop) {
    top = rowTop;
  } else if (rowTop + rowHeight > currentTop + viewportHeight) {
    top = rowTop + rowHeight - viewportHeight;
  } else {
    top = currentTop;
  }
  return Math.round(Math.min(Math.max(0, top), maxScroll));
}

/** True when the viewport shows the end of the list (within `slack` px). */
export function atBottom(scrollTop: number, viewportHeight: number, totalHeight: number, slack = 4): boolean {
  return scrollTop + viewportHeight >= totalHeight - slack;
}

/** True when row `index` is entirely inside the viewport. */
export function rowVisible(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): boolean {
  const top = index * rowHeight;
  return top >= scrollTop && top + rowHeight <= scrollTop + viewportHeight;
}
