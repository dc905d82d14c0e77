// @vitest-environment jsdom
import { act, cleanup, render } from '@testing-library/react';
import { useRef } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { geometry, MAX_SCROLL_PX, useRowWindow, type RowWindow } from './useRowWindow';

beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 360 });
  const tops = new WeakMap<Element, number>();
  Object.defineProperty(HTMLElement.prototype, 'scrollTop', { configurable: true, get() { return tops.get(this as Element) ?? 0; }, set(v: number) { tops.set(this as Element, v); } });
  HTMLElement.prototype.scrollTo = function (this: HTMLElement, o?: ScrollToOptions | number) {
    this.scrollTop = typeof o === 'object' ? (o.top ?? 0) : 0;
    this.dispatchEvent(new Event('scroll'));
  } as typeof HTMLElement.prototype.scrollTo;
});
afterEach(cleanup);

describe('geometry', () => {
  it('is the plain row offset below the limit', () => {
    const g = geometry({ count: 1000, rowHeight: 36, viewport: 360 });
    expect(g.height).toBe(36_000);
    expect(g.virtualTop(3600)).toBe(3600);
    expect(g.scrollTopOf(36 * 500)).toBe(18_000);
    expect(g.virtualTop(1e9)).toBe(36_000 - 360);
  });
  it('scales a million rows into the spacer limit and still reaches the first and the last row', () => {
    const g = geometry({ count: 1_000_000, rowHeight: 36, viewport: 360 });
    expect(g.height).toBe(MAX_SCROLL_PX);
    expect(g.virtualTop(0)).toBe(0);
    expect(g.virtualTop(MAX_SCROLL_PX - 360)).toBeCloseTo(36_000_000 - 360, 3);
    // Round trip: the scroll position of a row shows that row at the top.
    const top = g.scrollTopOf(36 * 777_777);
    expect(Math.floor(g.virtualTop(top) / 36 + 1e-6)).toBe(777_777);
  });
});

describe('useRowWindow', () => {
  let win: RowWindow;
  function List({ count }: { count: number }) {
    const ref = useRef<HTMLDivElement>(null);
    win = useRowWindow({ count, rowHeight: 36, scrollRef: ref, overscan: 2 });
    return (
      <div ref={ref} data-testid="box">
        <div style={{ height: win.height }}>
          {win.rows.map((r) => (
            <div key={r.index} data-top={r.top}>
              {r.index}
            </div>
          ))}
        </div>
      </div>
    );
  }
  it('shows only the window, follows scrolling and jumps to an index, for a million rows', () => {
    const { getByTestId } = render(<List count={1_000_000} />);
    expect(win.first).toBe(0);
    expect(win.rows.length).toBe(Math.ceil(360 / 36) + 2 + 1);
    const box = getByTestId('box');
    act(() => box.scrollTo({ top: 4_000_000 }));
    expect(win.first).toBeGreaterThan(400_000);
    act(() => win.scrollToIndex(999_990));
    expect(win.rows.map((r) => r.index)).toContain(999_999);
    expect(win.last).toBe(999_999);
    // The last row ends at the bottom of the spacer: the rows sit where the viewport is.
    const lastRow = win.rows[win.rows.length - 1];
    expect(lastRow.top + 36).toBeCloseTo(win.height, 3);
    act(() => win.scrollToIndex(123_456));
    const shown = win.rows.find((r) => r.index === 123_456)!;
    expect(shown.top).toBeCloseTo(box.scrollTop, 3);
  });
  it('is empty for an empty list', () => {
    render(<List count={0} />);
    expect(win.rows).toEqual([]);
    expect(win.height).toBe(0);
  });
});
