/**
 * The sandboxed preload, bundled exactly as build/build.mjs does (one CommonJS
 * file requiring only 'electron'), evaluated with a fake `electron`: it must
 * expose only invoke/subscribe, forward contract channels, refuse others
 * without reaching the main process, and route pushed events by topic.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, EVENT_CHANNEL } from '../../shared/contract';
import { REPO_ROOT } from '../services/testing/fixtures';

interface Exposed {
  invoke(channel: unknown, input?: unknown): Promise<unknown>;
  subscribe(topic: unknown, listener: unknown): () => void;
}

function loadPreload(code: string) {
  const exposed: Record<string, Exposed> = {};
  const invoked: { channel: string; input: unknown }[] = [];
  const onListeners = new Map<string, (event: unknown, ...args: unknown[]) => void>();
  const required: string[] = [];
  const fakeElectron = {
    contextBridge: { exposeInMainWorld: (key: string, api: Exposed) => (exposed[key] = api) },
    ipcRenderer: {
      invoke: async (channel: string, input: unknown) => {
        invoked.push({ channel, input });
        return { ok: true, value: `answer for ${channel}` };
      },
      on: (channel: string, l: (event: unknown, ...args: unknown[]) => void) => onListeners.set(channel, l),
    },
  };
  const fakeRequire = (name: string) => {
    required.push(name);
    if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
    return fakeElectron;
  };
  const module = { exports: {} };
  new Function('require', 'module', 'exports', code)(fakeRequire, module, module.exports);
  return { exposed, invoked, onListeners, required };
}

describe('preload (sandboxed bridge)', () => {
  let code: string;
  beforeAll(async () => {
    const out = await build({
      entryPoints: [join(REPO_ROOT, 'electron/preload/preload.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['electron'],
      write: false,
      logLevel: 'error',
    });
    code = out.outputFiles[0].text;
  });

  it('requires only electron and exposes exactly invoke and subscribe as window.consoleApi', () => {
    const p = loadPreload(code);
    expect([...new Set(p.required)]).toEqual(['electron']);
    expect(Object.keys(p.exposed)).toEqual(['consoleApi']);
    expect(Object.keys(p.exposed.consoleApi).sort()).toEqual(['invoke', 'subscribe']);
    expect(code).not.toMatch(/require\("(node:)?(fs|child_process|path)"\)/);
  });

  it('forwards every contract channel and refuses anything else without reaching the main process', async () => {
    const p = loadPreload(code);
    for (const ch of CHANNELS) await expect(p.exposed.consoleApi.invoke(ch, { x: 1 })).resolves.toEqual({ ok: true, value: `answer for ${ch}` });
    expect(p.invoked.map((i) => i.channel)).toEqual([...CHANNELS]);
    for (const bad of ['fs.readFile', EVENT_CHANNEL, '__proto__', 42, undefined]) {
      await expect(p.exposed.consoleApi.invoke(bad)).resolves.toMatchObject({ ok: false, error: { code: 'ERR_IPC_INPUT' } });
    }
    expect(p.invoked).toHaveLength(CHANNELS.length);
  });

  it('delivers pushed events to the listeners of their topic, until unsubscribed', () => {
    const p = loadPreload(code);
    const got: unknown[] = [];
    const other: unknown[] = [];
    const off = p.exposed.consoleApi.subscribe('job.progress', (x: unknown) => got.push(x));
    p.exposed.consoleApi.subscribe('data.changed', (x: unknown) => other.push(x));
    expect(() => p.exposed.consoleApi.subscribe('secrets', () => {})).toThrow(/Unknown topic/);
    const push = p.onListeners.get(EVENT_CHANNEL)!;
    push({}, { topic: 'job.progress', payload: { jobId: 'a', bytesDone: 1 } });
    push({}, { topic: 'nope', payload: 1 });
    push({}, null);
    off();
    push({}, { topic: 'job.progress', payload: { jobId: 'a', bytesDone: 2 } });
    expect(got).toEqual([{ jobId: 'a', bytesDone: 1 }]);
    expect(other).toEqual([]);
  });
});
