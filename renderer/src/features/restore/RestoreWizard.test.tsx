// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobInfo, RestorePlanView } from '../../../../shared/contract';
import { useJobStore } from '../../api/jobStore';
import { memoryApi, refusal } from '../../testing/memoryApi';
import { RestoreWizard } from './RestoreWizard';

afterEach(() => {
  cleanup();
  useJobStore.setState({ progressById: {}, doneById: {} });
});

const bundle = (generation: number, ok: boolean | null, code: string | null = null) => ({ file: `/ws/library/${generation}`, name: `mirror-${generation}.tar.zst`, sha256: String(generation).repeat(64).slice(0, 64), size: 1000 * generation, kind: generation === 1 ? 'mirror-full' : 'mirror-delta', exportId: `exp-${generation}`, generation, ok, code, message: null, signedBy: [] }) as RestorePlanView['bundles'][number];

const plan: RestorePlanView = {
  ok: false,
  current: { seq: 3, exportId: 'exp-3', generation: 3 },
  target: { exportId: 'exp-3', generation: 3 },
  bundles: [bundle(1, true), bundle(2, false, 'ERR_VERIFY_DIGEST'), bundle(3, null)],
  gaps: [],
  bad: bundle(2, false, 'ERR_VERIFY_DIGEST'),
  code: 'ERR_VERIFY_DIGEST',
  message: 'mirror-2.tar.zst in the library does not verify.',
  action: 'Copy the bundle again from the media.',
  offers: [{ kind: 'rollback', seq: 2, generation: 2, exportId: 'exp-2', command: 'mirror rollback --to 2', text: 'Roll back to generation 2, kept on disk.' }],
};

const job = (jobId: string, kind: JobInfo['kind'], over: Partial<JobInfo> = {}): JobInfo => ({ jobId, kind, state: 'running', paths: [], startedAt: '2026-12-04T10:00:00.000Z', finishedAt: null, progress: null, verdict: null, error: null, import: null, status: null, ...over });

describe('RestoreWizard', () => {
  it('preview (dry run) → typed confirmation with a reason → progress → refused result with staging unchanged and the rollback offer', async () => {
    const jobs: JobInfo[] = [];
    const m = memoryApi({
      'jobs.list': () => jobs,
      'restore.preview': () => {
        jobs.push(job('p1', 'restore-preview'));
        return { jobId: 'p1' };
      },
      'restore.apply': (input) => {
        const i = input as { confirm: string; reason: string };
        if (i.confirm !== 'exp-3') throw refusal('ERR_USAGE', 'The confirmation does not match.');
        jobs.push(job('a1', 'restore-apply'));
        return { jobId: 'a1' };
      },
      'staging.rollback': (input) => ({ exportId: 'exp-2', generation: (input as { to: number }).to }),
    });
    render(<RestoreWizard />, { wrapper: m.wrapper });
    const next = () => screen.getByRole('button', { name: 'Next' }) as HTMLButtonElement;
    expect(next().disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Run the preview' }));
    await waitFor(() => expect(m.calls.some((c) => c.channel === 'restore.preview')).toBe(true));
    act(() => m.push('data.changed', { scopes: ['jobs'] }));
    act(() => m.push('job.done', job('p1', 'restore-preview', { state: 'failed', restore: { plan, result: null } })));
    const preview = await screen.findByRole('region', { name: 'What the restore will change' });
    expect(within(preview).getByText(/failed ERR_VERIFY_DIGEST/)).toBeTruthy();
    expect(preview.textContent).toContain('staging stays where it is');
    expect(screen.getByRole('button', { name: 'Roll back to generation 2' })).toBeTruthy();
    // No step that changes staging is labelled "check".
    expect(screen.queryByRole('button', { name: /check/i })).toBeNull();

    fireEvent.click(next());
    const restore = await screen.findByRole('button', { name: 'Restore staging' });
    expect((restore as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Type the export id to confirm'), { target: { value: 'exp-2' } });
    fireEvent.change(screen.getByLabelText('Reason for the restore'), { target: { value: 'INC-12 staging suspect' } });
    expect((restore as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Type the export id to confirm'), { target: { value: 'exp-3' } });
    expect((restore as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(restore);
    await waitFor(() => expect(m.calls.find((c) => c.channel === 'restore.apply')?.input).toEqual({ reason: 'INC-12 staging suspect', confirm: 'exp-3' }));
    act(() => m.push('data.changed', { scopes: ['jobs'] }));
    await screen.findByRole('button', { name: 'See the result' });
    act(() =>
      m.push(
        'job.done',
        job('a1', 'restore-apply', { state: 'failed', restore: { plan, result: { ok: false, plan, import: null, current: { seq: 3, exportId: 'exp-3', generation: 3, stateDigest: 'sha256:' + 'a'.repeat(64) }, code: 'ERR_VERIFY_DIGEST', message: 'Nothing was applied.' } } }),
      ),
    );
    fireEvent.click(await screen.findByRole('button', { name: 'See the result' }));
    const result = await screen.findByRole('region', { name: 'Restore result' });
    expect(result.textContent).toContain('Staging is unchanged: still exp-3 (generation 3)');
    fireEvent.click(within(result).getByRole('button', { name: 'Roll back to generation 2' }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: 'CHG-9 back to 2' } });
    fireEvent.change(within(dialog).getByLabelText(/Type 2 to confirm/), { target: { value: '2' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Roll back to generation 2' }));
    await waitFor(() => expect(m.calls.find((c) => c.channel === 'staging.rollback')?.input).toEqual({ to: 2, reason: 'CHG-9 back to 2' }));
    expect((await screen.findByText('Rolled back: staging is exp-2 (generation 2).')).textContent).toBeTruthy();
  });
});
