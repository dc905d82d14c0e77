import { describe, expect, it } from 'vitest';
import { OpsError } from '../../shared/errors';
import type { Topic, Topics } from '../../shared/contract';
import { JobManager, type JobRunner } from './jobs';

const params = { kind: 'verify' as const, workspaceDir: '/nonexistent', path: '/x.tar.zst', keyFiles: [], identityFiles: [] };

function collector() {
  const events: { topic: Topic; payload: unknown }[] = [];
  return { events, emit: <T extends Topic>(topic: T, payload: Topics[T]) => void events.push({ topic, payload }) };
}

describe('JobManager', () => {
  it('reports progress with the job id and ends with the verdict', async () => {
    const runner: JobRunner = async (_p, ctx) => {
      ctx.onProgress({ jobId: 'ignored', phase: 'read', bytesDone: 10, bytesTotal: 20 });
      return {
        verdict: { ok: true, code: null, message: 'ok', action: null, path: '/x.tar.zst', kind: 'mirror-full', exportId: 'e', generation: 1, checks: [], items: [], warnings: [], stats: { bytes: 20, files: 1, seconds: 0 } },
        status: null,
        import: null,
      };
    };
    const c = collector();
    const jm = new JobManager(runner, c.emit);
    const id = jm.start(params);
    expect(jm.get(id).state).toBe('running');
    const done = await jm.wait(id);
    expect(done.state).toBe('succeeded');
    expect(done.verdict?.exportId).toBe('e');
    const progress = c.events.filter((e) => e.topic === 'job.progress').map((e) => e.payload as { jobId: string; bytesDone: number });
    expect(progress).toHaveLength(1);
    expect(progress[0].jobId).toBe(id);
    expect(progress[0].bytesDone).toBe(10);
    expect(c.events.some((e) => e.topic === 'job.done' && (e.payload as { jobId: string }).jobId === id)).toBe(true);
  });

  it('a failed verdict makes a failed job; a thrown OpsError keeps its code', async () => {
    const jm = new JobManager(async () => {
      throw new OpsError('ERR_WORKSPACE_BUSY', 'busy');
    }, () => {});
    const id = jm.start(params);
    const done = await jm.wait(id);
    expect(done.state).toBe('failed');
    expect(done.error?.code).toBe('ERR_WORKSPACE_BUSY');
  });

  it('cancel aborts the running job through its signal and reports ERR_CANCELLED', async () => {
    let sawAbort = false;
    const runner: JobRunner = (_p, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(ctx.signal.reason);
        });
      });
    const jm = new JobManager(runner, () => {});
    const id = jm.start(params);
    await Promise.resolve();
    expect(jm.cancel(id)).toBe(true);
    const done = await jm.wait(id);
    expect(sawAbort).toBe(true);
    expect(done.state).toBe('cancelled');
    expect(done.error?.code).toBe('ERR_CANCELLED');
    expect(jm.cancel(id)).toBe(false);
  });
});
