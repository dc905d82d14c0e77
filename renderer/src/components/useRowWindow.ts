/**
 * The window of a long list of fixed-height rows that a scroll box shows,
 * computed from its scrollTop in constant time, for lists of a million rows
 * (the audit log, a bundle's file list).
 *
 * Why not @tanstack/react-virtual for these lists: its virtualizer keeps a
 * measurement per item and rebuilds all of them whenever the count changes
 * (a filter, the first page): for 1,000,000 rows that is one task of 100 to
 * 500 ms in Chromium (profiled in the audit e2e), a long task on every filter
 * change. Rows here have one fixed height, so the window is arithmetic.
 *
 * Browsers cap an element's height (Chromium about 33.5 million px, Firefox
 * about 17.9 million): 1,000,000 rows of 36 px would be cut off. Past
 * MAX_SCROLL_PX the scroll range is scaled: the scroll box's full travel
 * still runs from the first row to the last, each pixel of travel moving
 * `scale` pixels of rows, and the rows are placed where the viewport is.
 */
import { useCallback, useLayoutEffect, useState, type RefObject } from 'react';

/** The tallest spacer the list makes (well under every browser's limit). */
export const MAX_SCROLL_PX = 8_000_000;

export interface WindowRow {
  index: number;
  /** The row's top inside the spacer, in px. */
  top: number;
}

export interface RowWindow {
  /** Height of the spacer inside the scroll box, in px. */
  height: number;
  rows: WindowRow[];
  /** First and last index shown (the overscan included); last < first when empty. */
  first: number;
  last: number;
  /** Scrolls so that row `index` is at the top. */
  scrollToIndex(index: number): void;
}

interface Geometry {
  count: number;
  rowHeight: number;
  viewport: number;
}

/** The spacer height and the row offset shown at a scroll position (pure; exported for tests). */
export function geometry({ count, rowHeight, viewport }: Geometry): { height: number; virtualTop(scrollTop: number): number; scrollTopOf(virtualTop: number): number } {
  const full = count * rowHeight;
  const height = Math.min(full, MAX_SCROLL_PX);
  const maxReal = Math.max(0, height - viewport);
  const maxVirtual = Math.max(0, full - viewport);
  if (full <= MAX_SCROLL_PX || maxReal === 0) {
    return { height, virtualTop: (t) => Math.min(Math.max(0, t), maxVirtual), scrollTopOf: (v) => Math.min(Math.max(0, v), maxVirtual) };
  }
  const scale = maxVirtual / maxReal;
  return {
    height,
    virtualTop: (t) => Math.min(Math.max(0, t), maxReal) * scale,
    scrollTopOf: (v) => Math.min(Math.max(0, v), maxVirtual) / scale,
  };
}

export function useRowWindow(opts: { count: number; rowHeight: number; scrollRef: RefObject<HTMLElement | null>; overscan?: number; initialViewport?: number }): RowWindow {
  const { count, rowHeight, scrollRef } = opts;
  const overscan = opts.overscan ?? 6;
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(opts.initialViewport ?? 480);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const read = () => {
      if (el.clientHeight > 0) setViewport(el.clientHeight);
      setScrollTop(el.scrollTop);
    };
    read();
    el.addEventListener('scroll', read, { passive: true });
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(read) : null;
    ro?.observe(el);
    return () => {
      el.removeEventListener('scroll', read);
      ro?.disconnect();
    };
  }, [scrollRef]);

  const g = geometry({ count, rowHeight, viewport });
  const vTop = g.virtualTop(scrollTop);
  const first = Math.max(0, Math.floor(vTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((vTop + viewport) / rowHeight) + overscan);
  const rows: WindowRow[] = [];
  for (let i = first; i <= last; i++) rows.push({ index: i, top: i * rowHeight - vTop + Math.min(scrollTop, Math.max(0, g.height - viewport)) });

  const scrollToIndex = useCallback(
    (index: number) => {
      const el = scrollRef.current;
      if (!el) return;
      const top = geometry({ count, rowHeight, viewport }).scrollTopOf(index * rowHeight);
      el.scrollTo({ top });
      setScrollTop(top);
    },
    [scrollRef, count, rowHeight, viewport],
  );

  return { height: g.height, rows, first, last, scrollToIndex };
}
