// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../../../shared/contract';
import { useJobStore } from '../../api/jobStore';
import { memoryApi } from '../../testing/memoryApi';
import { ImportPage } from './ImportPage';
import { useImportStore } from './store';

afterEach(() => {
  cleanup();
  useJobStore.setState({ progressById: {}, doneById: {} });
  useImportStore.setState({ path: '', jobId: null });
});

const restore = (over: Partial<JobInfo> = {}): JobInfo => ({ jobId: 'r1', kind: 'restore-apply', state: 'running', paths: ['/media/kit'], startedAt: '2026-12-04T10:00:00.000Z', finishedAt: null, progress: null, verdict: null, error: null, import: null, status: null, ...over });

const button = (name: string) => screen.getByRole('button', { name }) as HTMLButtonElement;

describe('ImportPage', () => {
  it('blocks an import (not a verify) while a restore started elsewhere runs, with the reason, and frees it when the restore ends', async () => {
    useImportStore.setState({ path: '/media/usb/kit' });
    const m = memoryApi({ 'jobs.list': () => [restore()], 'app.info': () => ({ nativePicker: false }) });
    render(<ImportPage />, { wrapper: m.wrapper });
    await waitFor(() => expect(button('Import into staging').disabled).toBe(true));
    expect(button('Verify').disabled).toBe(false);
    expect(screen.getByText(/Import is unavailable\. Restore running: wait for it to finish or cancel it in Tasks\./)).toBeTruthy();
    act(() => m.push('job.done', restore({ state: 'succeeded', finishedAt: '2026-12-04T10:01:00.000Z' })));
    expect(button('Import into staging').disabled).toBe(false);
    expect(screen.queryByText(/Import is unavailable/)).toBeNull();
  });
});
