/**
 * Sandboxed preload: exposes exactly two verbs to the renderer as
 * `window.consoleApi` — invoke(channel, input) and subscribe(topic, listener)
 * — and nothing of Electron or Node. Bundled to one CommonJS file that
 * requires only 'electron'. Calls to names outside the contract never reach
 * the main process.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNEL_NAMES, EVENT_CHANNEL, TOPIC_NAMES } from '../../shared/channels';

type Listener = (payload: unknown) => void;

const channels = new Set<string>(CHANNEL_NAMES);
const topics = new Set<string>(TOPIC_NAMES);
const listeners = new Map<string, Set<Listener>>();

ipcRenderer.on(EVENT_CHANNEL, (_event, message) => {
  const m = message as { topic?: unknown; payload?: unknown } | null;
  if (!m || typeof m.topic !== 'string') return;
  for (const l of listeners.get(m.topic) ?? []) {
    try {
      l(m.payload);
    } catch {
      /* a listener's error must not stop the others */
    }
  }
});

contextBridge.exposeInMainWorld('consoleApi', {
  invoke(channel: unknown, input?: unknown): Promise<unknown> {
    if (typeof channel !== 'string' || !channels.has(channel)) {
      return Promise.resolve({ ok: false, error: { code: 'ERR_IPC_INPUT', message: `Unknown channel ${String(channel)}: not part of the console's contract.` } });
    }
    return ipcRenderer.invoke(channel, input);
  },
  subscribe(topic: unknown, listener: unknown): () => void {
    if (typeof topic !== 'string' || !topics.has(topic)) throw new Error(`Unknown topic ${String(topic)}.`);
    if (typeof listener !== 'function') throw new Error('subscribe needs a listener function.');
    let set = listeners.get(topic);
    if (!set) listeners.set(topic, (set = new Set()));
    const l = listener as Listener;
    set.add(l);
    return () => {
      set.delete(l);
    };
  },
});
