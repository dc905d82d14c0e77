// @vitest-environment jsdom
import { cleanup, configure, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LibraryEntry, LibraryFilesPageView } from '../../../../shared/contract';
import { memoryApi, refusal } from '../../testing/memoryApi';
import { BundleFiles } from './BundleFiles';

// Generous waits: on a loaded 2-core machine a debounced filter and its page can take seconds (the default is 1 s).
configure({ asyncUtilTimeout: 10_000 });

beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 420 });
  const tops = new WeakMap<Element, number>();
  Object.defineProperty(HTMLElement.prototype, 'scrollTop', { configurable: true, get() { return tops.get(this as Element) ?? 0; }, set(v: number) { tops.set(this as Element, v); } });
  HTMLElement.prototype.scrollTo = function (this: HTMLElement, o?: ScrollToOptions | number) {
    this.scrollTop = typeof o === 'object' ? (o.top ?? 0) : 0;
    this.dispatchEvent(new Event('scroll'));
  } as typeof HTMLElement.prototype.scrollTo;
});
afterEach(cleanup);

const COUNT = 100_000;
const SHA = 'ab'.repeat(32);
const entry: LibraryEntry = { file: `library/${SHA}/mirror-20251029-full.tar.zst`, kind: 'mirror-full', exportId: 'exp-1', generation: 1, sha256: SHA, size: 1234 };
const pathOf = (i: number) => `data/raw/d${String(Math.floor(i / 1000)).padStart(4, '0')}/part-${String(i).padStart(7, '0')}.json`;

/** The engine's answer: file i of COUNT, filtered by a path substring (every 10th file matches "7.json"). */
function answer(input: unknown): LibraryFilesPageView {
  const q = input as { sha256: string; offset: number; limit: number; filter?: string };
  const idx = q.filter ? Array.from({ length: COUNT / 10 }, (_, k) => k * 10 + 7) : null;
  const total = idx ? idx.length : COUNT;
  const rows = [];
  for (let k = q.offset; k < Math.min(total, q.offset + q.limit); k++) {
    const i = idx ? idx[k] : k;
    rows.push({ path: pathOf(i), size: i, sha256: i.toString(16).padStart(64, '0') });
  }
  return { sha256: q.sha256, total, count: COUNT, totalBytes: 42, offset: q.offset, rows, verified: { at: '2026-01-01T00:00:00.000Z', exportId: 'exp-1', generation: 1, kind: 'mirror-full', signedBy: ['sha256:' + 'c'.repeat(64)] } };
}

describe('BundleFiles (a bundle file list paged over IPC)', () => {
  it('shows the total, a window of rows, pages as it scrolls, and filters once the typing stops', async () => {
    const m = memoryApi({ 'library.files': answer });
    render(<BundleFiles entry={entry} onClose={() => {}} />, { wrapper: m.wrapper });
    await waitFor(() => expect(screen.getByTestId('files-total').textContent).toBe('100,000 files.'));
    expect(screen.getByText(/Read from the library copy, verified/)).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Files in the bundle' });
    expect(table.getAttribute('aria-rowcount')).toBe(String(COUNT + 1));
    await waitFor(() => expect(within(table).getByText(pathOf(0))).toBeTruthy());
    // Only a window is in the DOM, and only the first page was asked for.
    expect(within(table).getAllByRole('row').length).toBeLessThan(40);
    expect(m.calls.filter((c) => c.channel === 'library.files').map((c) => (c.input as { offset: number }).offset)).toEqual([0]);

    // To the end: the last page is fetched and the last file shown with its size and digest.
    screen.getByTestId('files-scroll').scrollTo({ top: 10_000_000 });
    await waitFor(() => expect(within(table).getByText(pathOf(COUNT - 1))).toBeTruthy());
    const last = within(table).getByText(pathOf(COUNT - 1)).closest('[role="row"]')!;
    expect(last.getAttribute('aria-rowindex')).toBe(String(COUNT + 1));
    expect(last.textContent).toContain('97.7 KiB');
    expect(m.calls.some((c) => c.channel === 'library.files' && (c.input as { offset: number }).offset === 99_800)).toBe(true);
    // Pages in between were not fetched.
    expect(m.calls.filter((c) => c.channel === 'library.files').length).toBeLessThanOrEqual(3);

    // Typing quickly sends one request with the final text; the list starts at the top again.
    const box = screen.getByLabelText('Filter files by path');
    for (const t of ['7', '7.', '7.j', '7.json']) fireEvent.change(box, { target: { value: t } });
    await waitFor(() => expect(screen.getByTestId('files-total').textContent).toBe('10,000 of 100,000 files match "7.json".'));
    const filters = m.calls.filter((c) => c.channel === 'library.files').map((c) => (c.input as { filter?: string }).filter).filter(Boolean);
    expect([...new Set(filters)]).toEqual(['7.json']);
    await waitFor(() => expect(within(table).getByText(pathOf(7))).toBeTruthy());
    expect(within(table).getByText(pathOf(7)).closest('[role="row"]')!.getAttribute('aria-rowindex')).toBe('2');
  });

  it('shows a refusal with its code (a library copy that no longer verifies)', async () => {
    const m = memoryApi({ 'library.files': () => { throw refusal('ERR_VERIFY_DIGEST', 'The library copy of mirror-20251029-full.tar.zst does not verify: digest mismatch.'); } });
    render(<BundleFiles entry={entry} onClose={() => {}} />, { wrapper: m.wrapper });
    expect(await screen.findByText(/does not verify/)).toBeTruthy();
    expect(screen.getAllByText(/ERR_VERIFY_DIGEST/).length).toBeGreaterThan(0);
  });
});
