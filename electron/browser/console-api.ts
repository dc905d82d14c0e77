/**
 * The preload surface for a page driven by Playwright (the browser shell and
 * the e2e bridge): `window.consoleApi` with exactly `invoke` and `subscribe`,
 * for the contract's channel and topic names only, installed by
 * `exposeBinding` + an init script. Every call is forwarded to the handler
 * table registered through `registerHandlers` (sender check, zod parsing), with
 * the calling frame's URL and whether it is the page's main frame, so the
 * caller's sender check can refuse a foreign or embedded frame.
 * Events are pushed into the page the way the main process sends them to the window.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { CHANNELS, TOPICS, type Envelope, type Topic, type Topics } from '../../shared/contract';
import { registerHandlers, type HandlerTable, type IpcEventLike } from '../ipc/handlers';
import { BROWSER_APP_ORIGIN, isAppOriginUrl } from '../main/renderer-files';

/** What the binding passes to the sender check: the frame's URL and whether it is the main frame. */
export interface PageIpcEvent extends IpcEventLike {
  mainFrame: boolean;
}

/** The sender check for a routed origin: the page's main frame, on exactly that origin. */
export function isTrustedPageSender(event: IpcEventLike, origin: string = BROWSER_APP_ORIGIN): boolean {
  return (event as Partial<PageIpcEvent>).mainFrame === true && isAppOriginUrl(event.senderFrame?.url, origin);
}

export interface MountOptions {
  /** Sender check (default: main frame of BROWSER_APP_ORIGIN). */
  isTrustedSender?: (event: IpcEventLike) => boolean;
  /** Told about every call that reached a registered channel. */
  onCall?: (channel: string, envelope: Envelope<unknown>) => void;
}

type Listener = (event: IpcEventLike, input: unknown) => Promise<unknown>;

/**
 * Registers the table and exposes it to every page of `target` (a context,
 * or one page). Call before the first navigation.
 */
export async function mountConsoleApi(target: BrowserContext | Page, table: HandlerTable, opts: MountOptions = {}): Promise<void> {
  const registry = new Map<string, Listener>();
  registerHandlers({ handle: (ch, l) => void registry.set(ch, l) }, table, { isTrustedSender: opts.isTrustedSender ?? ((e) => isTrustedPageSender(e)) });

  await target.exposeBinding('__consoleInvoke', async (source, channel: unknown, input: unknown) => {
    // Names outside the contract never reach a handler, whoever calls the binding directly.
    const listener = typeof channel === 'string' ? registry.get(channel) : undefined;
    if (!listener) {
      const env: Envelope<never> = { ok: false, error: { code: 'ERR_IPC_INPUT', message: `Unknown channel ${String(channel)}: not part of the console's contract.` } };
      return env;
    }
    const event: PageIpcEvent = { senderFrame: { url: source.frame.url() }, mainFrame: source.frame === source.page.mainFrame() };
    const env = (await listener(event, input)) as Envelope<unknown>;
    opts.onCall?.(channel as string, env);
    return env;
  });

  // The same surface the Electron preload exposes: invoke + subscribe, names checked, frozen.
  await target.addInitScript(
    ({ channels, topics }) => {
      const listeners = new Map<string, Set<(p: unknown) => void>>();
      const w = globalThis as unknown as {
        __consoleInvoke: (c: string, i: unknown) => Promise<unknown>;
        __consoleEmit: (t: string, p: unknown) => void;
      };
      const invokeBinding = w.__consoleInvoke;
      Object.defineProperty(globalThis, '__consoleEmit', {
        value: (topic: string, payload: unknown) => {
          for (const l of listeners.get(topic) ?? []) {
            try {
              l(payload);
            } catch {
              /* a listener's error must not stop the others */
            }
          }
        },
        writable: false,
        configurable: false,
      });
      const api = Object.freeze({
        invoke(channel: string, input?: unknown) {
          if (typeof channel !== 'string' || !channels.includes(channel)) {
            return Promise.resolve({ ok: false, error: { code: 'ERR_IPC_INPUT', message: `Unknown channel ${String(channel)}: not part of the console's contract.` } });
          }
          return (invokeBinding ?? w.__consoleInvoke)(channel, input);
        },
        subscribe(topic: string, listener: (p: unknown) => void) {
          if (typeof topic !== 'string' || !topics.includes(topic)) throw new Error(`Unknown topic ${String(topic)}.`);
          if (typeof listener !== 'function') throw new Error('subscribe needs a listener function.');
          let set = listeners.get(topic);
          if (!set) listeners.set(topic, (set = new Set()));
          set.add(listener);
          return () => void set.delete(listener);
        },
      });
      Object.defineProperty(globalThis, 'consoleApi', { value: api, writable: false, configurable: false, enumerable: true });
    },
    { channels: [...CHANNELS] as string[], topics: [...TOPICS] as string[] },
  );
}

/** Pushes a topic event into a page (dropped when the page closed or navigated, as a closed window would). */
export function pushEvent<T extends Topic>(page: Page, topic: T, payload: Topics[T]): void {
  if (page.isClosed()) return;
  page
    .evaluate(([t, p]) => (globalThis as unknown as { __consoleEmit?: (t: string, p: unknown) => void }).__consoleEmit?.(t, p), [topic, payload] as const)
    .catch(() => {
      /* the page navigated or closed */
    });
}
