// @vitest-environment jsdom
import { cleanup, configure, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRowView } from '../../../../shared/contract';
import { memoryApi } from '../../testing/memoryApi';
import { AuditPage } from './AuditPage';
import { useAuditUi } from './store';

// jsdom lays nothing out: give elements the list's size so the virtualizer has a window to fill.
// Generous waits: on a loaded 2-core machine a debounced filter and its page can take seconds (the default is 1 s).
configure({ asyncUtilTimeout: 10_000 });

beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 480 });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 800 });
  // jsdom does not scroll: keep the offset and tell the listeners, as a browser would.
  const tops = new WeakMap<Element, number>();
  Object.defineProperty(HTMLElement.prototype, 'scrollTop', { configurable: true, get() { return tops.get(this as Element) ?? 0; }, set(v: number) { tops.set(this as Element, v); } });
  HTMLElement.prototype.scrollTo = function (this: HTMLElement, o?: ScrollToOptions | number) {
    this.scrollTop = typeof o === 'object' ? (o.top ?? 0) : 0;
    this.dispatchEvent(new Event('scroll'));
  } as typeof HTMLElement.prototype.scrollTo;
});

afterEach(() => {
  cleanup();
  useAuditUi.setState({ action: '', actor: '', subject: '', fromDay: '', toDay: '', verified: null });
});

const TOTAL = 1_000_000;
/** Row at index i of the newest-first list: id TOTAL - i; every 50th id a failure. */
function rowAt(i: number, action?: string): AuditRowView {
  const id = TOTAL - i;
  const failed = id % 50 === 0;
  return { id, ts: new Date(Date.UTC(2026, 0, 1) - i * 60_000).toISOString(), actor: 'ops (operator: alice)', action: action ?? (failed ? 'mirror.verify.failed' : 'mirror.bundle.imported'), subject: `exp-${id}`, details: failed ? { errorCode: 'ERR_VERIFY_DIGEST' } : {}, prevHash: '0'.repeat(64), hash: 'a'.repeat(64) };
}

describe('AuditPage (virtual list over IPC paging)', () => {
  it('shows the total, pages in rows, debounces filters, jumps to a date and opens a row in the detail drawer', async () => {
    const m = memoryApi({
      'audit.page': (input) => {
        const q = input as { offset: number; limit: number; action?: string };
        const total = q.action ? 20_000 : TOTAL;
        return { total, offset: q.offset, rows: Array.from({ length: Math.min(q.limit, total - q.offset) }, (_, k) => rowAt(q.offset + k, q.action)) };
      },
      'audit.locate': () => ({ offset: 123_456, total: TOTAL }),
      'audit.row': (input) => ({ row: rowAt(TOTAL - (input as { id: number }).id), hashOk: true, linkOk: true, previousId: null, nextId: null }),
    });
    render(<AuditPage />, { wrapper: m.wrapper });
    await waitFor(() => expect(screen.getByTestId('audit-total').textContent).toMatch(/1,000,000 rows/));
    const table = screen.getByRole('table', { name: 'Audit log' });
    expect(table.getAttribute('aria-rowcount')).toBe(String(TOTAL + 1));
    await waitFor(() => expect(within(table).getAllByRole('row').length).toBeGreaterThan(5));
    // Only a window of rows is in the DOM, not a million.
    expect(within(table).getAllByRole('row').length).toBeLessThan(100);
    // Failed rows are visibly failed (row class and a label).
    const failedRow = within(table).getAllByRole('row').find((r) => r.textContent?.includes('mirror.verify.failed'))!;
    expect(failedRow.className).toContain('okc-row-failed');
    expect(within(failedRow).getByText('failed')).toBeTruthy();

    // Typing a filter quickly sends one query with the final text (debounced).
    const before = m.calls.filter((c) => c.channel === 'audit.page').length;
    const box = screen.getByLabelText('Action filter');
    for (const t of ['k', 'ke', 'key', 'keys', 'keys.']) fireEvent.change(box, { target: { value: t } });
    await waitFor(() => expect(screen.getByTestId('audit-total').textContent).toMatch(/20,000 rows match the filters/));
    const sent = m.calls.filter((c) => c.channel === 'audit.page').slice(before).map((c) => (c.input as { action?: string }).action);
    expect(sent.filter((a) => a !== undefined)).toEqual(['keys.']);
    fireEvent.change(box, { target: { value: '' } });
    await waitFor(() => expect(screen.getByTestId('audit-total').textContent).toMatch(/1,000,000 rows\.$/));

    // Jump to a date: the engine locates the offset under the same filters.
    fireEvent.change(screen.getByLabelText('Jump to date (UTC)'), { target: { value: '2025-10-01' } });
    fireEvent.click(screen.getByRole('button', { name: 'Jump' }));
    await waitFor(() => expect(m.calls.some((c) => c.channel === 'audit.locate' && (c.input as { at: string }).at === '2025-10-01T23:59:59.999Z')).toBe(true));
    // The list scrolls there (a million rows of 36 px are past the scale limit: the scroll range is scaled) and pages in the rows at that offset.
    await waitFor(() => expect(within(table).getAllByRole('row').some((r) => r.getAttribute('aria-rowindex') === String(123_456 + 2) && r.textContent?.includes(`exp-${TOTAL - 123_456}`))).toBe(true));
    expect(m.calls.some((c) => c.channel === 'audit.page' && (c.input as { offset: number }).offset === 123_400)).toBe(true);
    expect(within(table).getAllByRole('row').length).toBeLessThan(100);

    // A row opens the detail drawer with its chain check.
    await waitFor(() => expect(within(table).getAllByRole('row').some((r) => /exp-\d+/.test(r.textContent ?? ''))).toBe(true));
    const row = within(table).getAllByRole('row').find((r) => /exp-\d+/.test(r.textContent ?? ''))!;
    fireEvent.click(row);
    expect(await screen.findByText('hash matches')).toBeTruthy();
    expect(screen.getByText('linked to the previous row')).toBeTruthy();
  });
});
