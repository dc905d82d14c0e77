/**
 * Worker-thread entry: runs one named job and reports progress, the result,
 * or the error shape to the parent. A {type: 'cancel'} message aborts the
 * job's signal; the parent terminates the worker if it does not stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OpsError, toErrorShape } from '../../../shared/errors';
import { runJob, type JobName } from './contract';

interface Init {
  jobId: string;
  name: JobName;
  params: unknown;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const { jobId, name, params } = workerData as Init;
  const controller = new AbortController();
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') controller.abort(new OpsError('ERR_CANCELLED', 'Cancelled by the operator.'));
  });
  try {
    const value = await runJob(name, params, { jobId, signal: controller.signal, onProgress: (p) => port.postMessage({ type: 'progress', progress: p }) });
    port.postMessage({ type: 'result', value });
  } catch (e) {
    const shape = controller.signal.aborted && !(e instanceof OpsError) ? { code: 'ERR_CANCELLED', message: 'Cancelled by the operator.' } : toErrorShape(e);
    port.postMessage({ type: 'error', error: shape });
  } finally {
    port.close();
  }
}

void main();
