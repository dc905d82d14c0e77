// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../../../shared/contract';
import { useJobStore } from '../../api/jobStore';
import { memoryApi } from '../../testing/memoryApi';
import { TaskDrawer } from './TaskDrawer';
import { useJobBusy } from './jobs';

afterEach(() => {
  cleanup();
  useJobStore.setState({ progressById: {}, doneById: {} });
});

const job = (over: Partial<JobInfo> = {}): JobInfo => ({ jobId: 'j1', kind: 'import', state: 'running', paths: ['/media/kit'], startedAt: '2026-12-04T10:00:00.000Z', finishedAt: null, progress: null, verdict: null, error: null, import: null, status: null, ...over });

function Busy() {
  const b = useJobBusy();
  return <button disabled={b.busy} title={b.reason ?? ''}>Import</button>;
}

describe('TaskDrawer', () => {
  it('lists running jobs from jobs.list, shows per-step progress from events, and cancels', async () => {
    const m = memoryApi({ 'jobs.list': () => [job()], 'jobs.cancel': () => ({ cancelled: true }) });
    render(
      <>
        <TaskDrawer />
        <Busy />
      </>,
      { wrapper: m.wrapper },
    );
    const indicator = await screen.findByRole('button', { name: 'Tasks: 1 running' });
    // A colliding action elsewhere is disabled with the reason.
    await waitFor(() => expect((screen.getByRole('button', { name: 'Import' }) as HTMLButtonElement).disabled).toBe(true));
    expect(screen.getByRole('button', { name: 'Import' }).title).toMatch(/Import running.*cancel it in Tasks/);
    fireEvent.click(indicator);
    const drawer = screen.getByRole('complementary', { name: 'Tasks' });
    expect(drawer.textContent).toContain('Waiting for the first progress report');
    act(() => m.push('job.progress', { jobId: 'j1', phase: 'apply', step: 'apply', bytesDone: 12 * 1024 * 1024, bytesTotal: 24 * 1024 * 1024, bytesPerSecond: 8 * 1024 * 1024, percent: 50, etaSeconds: 2, elapsedMs: 9000, bundleIndex: 2, bundleCount: 4, bundle: 'delta-2.tar.zst' }));
    const text = screen.getByTestId('job-progress-text').textContent!;
    expect(text).toBe('bundle 2 of 4 (delta-2.tar.zst) · apply · 12.0 MiB of 24.0 MiB (50 %) · 8.0 MiB/s · ETA 2 s · elapsed 9 s');
    // The stepper: verify and extract done, apply current, switch pending.
    expect(drawer.querySelector('[aria-current="step"]')?.textContent).toContain('Apply');
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(m.calls.some((c) => c.channel === 'jobs.cancel' && (c.input as { jobId: string }).jobId === 'j1')).toBe(true));
    // The job ends: the indicator and the colliding action follow.
    act(() => m.push('job.done', job({ state: 'cancelled', error: { code: 'ERR_CANCELLED', message: 'Cancelled by the operator. Nothing was changed.' } })));
    expect(screen.getByRole('button', { name: 'Tasks: 0 running' })).toBeTruthy();
    expect(drawer.textContent).toContain('[ERR_CANCELLED] Cancelled by the operator');
    expect((screen.getByRole('button', { name: 'Import' }) as HTMLButtonElement).disabled).toBe(false);
  });
});
