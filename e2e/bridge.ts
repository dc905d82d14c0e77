/**
 * The browser e2e bridge: serves the built renderer from dist/renderer through
 * a route handler (no server, no network), and provides `window.consoleApi`
 * exactly as the preload does, forwarding every call to the REAL handler table
 * (createHandlers + registerHandlers, with the same sender check) running in
 * the test process against a real temp workspace. Topic events are pushed
 * into the page the same way the main process pushes them to the window.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { CHANNELS, TOPICS, type Envelope, type Topic, type Topics } from '../shared/contract';
import { createHandlers, registerHandlers, type HandlerDeps, type Handlers, type IpcEventLike } from '../electron/ipc/handlers';
import { REPO_ROOT } from '../electron/services/testing/fixtures';

export const RENDERER_DIR = join(REPO_ROOT, 'dist', 'renderer');
/** The origin the built renderer is served from (routed, never resolved on the network). */
export const ORIGIN = 'http://console.invalid';
export const APP_URL = `${ORIGIN}/index.html`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Serves dist/renderer for ORIGIN and refuses every other request. */
export async function serveRenderer(context: BrowserContext): Promise<void> {
  if (!existsSync(join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`The renderer is not built (${RENDERER_DIR}/index.html is missing): run npm run build:renderer first.`);
  }
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== ORIGIN) return route.abort('blockedbyclient');
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '') || 'index.html';
    const file = resolve(RENDERER_DIR, rel);
    if (!file.startsWith(RENDERER_DIR + sep) || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({
      status: 200,
      headers: { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP },
      body: readFileSync(file),
    });
  });
}

export interface Bridge {
  handlers: Handlers;
  /** Every topic event pushed to the page. */
  events: { topic: Topic; payload: unknown }[];
  /** Every invoke the page made (channel + ok/code). */
  calls: { channel: string; ok: boolean; code?: string }[];
  dispose(): Promise<void>;
}

/**
 * Installs the bridge on a page (before navigation): the handler table is
 * registered through `registerHandlers` on a local registry, so the browser
 * path runs the same sender check and zod parsing as the app.
 */
export async function installBridge(page: Page, deps: Omit<HandlerDeps, 'emit'>): Promise<Bridge> {
  const events: Bridge['events'] = [];
  const calls: Bridge['calls'] = [];
  const emit = <T extends Topic>(topic: T, payload: Topics[T]) => {
    events.push({ topic, payload });
    if (page.isClosed()) return;
    page.evaluate(([t, p]) => (globalThis as unknown as { __consoleEmit?: (t: string, p: unknown) => void }).__consoleEmit?.(t, p), [topic, payload] as const).catch(() => {
      /* the page navigated or closed: the event is dropped, as a closed window would */
    });
  };
  const handlers = createHandlers({ ...deps, emit });
  const registry = new Map<string, (event: IpcEventLike, input: unknown) => Promise<unknown>>();
  registerHandlers({ handle: (ch, l) => void registry.set(ch, l) }, handlers.table, {
    isTrustedSender: (e) => typeof e.senderFrame?.url === 'string' && e.senderFrame.url.startsWith(`${ORIGIN}/`),
  });

  await page.exposeBinding('__consoleInvoke', async (source, channel: unknown, input: unknown) => {
    const listener = typeof channel === 'string' ? registry.get(channel) : undefined;
    if (!listener) {
      const env: Envelope<never> = { ok: false, error: { code: 'ERR_IPC_INPUT', message: `Unknown channel ${String(channel)}.` } };
      return env;
    }
    const env = (await listener({ senderFrame: { url: source.frame.url() } }, input)) as Envelope<unknown>;
    calls.push({ channel: channel as string, ok: env.ok, code: env.ok ? undefined : env.error.code });
    return env;
  });

  // The same surface the preload exposes: invoke + subscribe, channel and topic checked.
  await page.addInitScript(
    ({ channels, topics }) => {
      const listeners = new Map<string, Set<(p: unknown) => void>>();
      const w = globalThis as unknown as {
        __consoleInvoke: (c: string, i: unknown) => Promise<unknown>;
        __consoleEmit: (t: string, p: unknown) => void;
        consoleApi: unknown;
      };
      w.__consoleEmit = (topic, payload) => {
        for (const l of listeners.get(topic) ?? []) l(payload);
      };
      w.consoleApi = Object.freeze({
        invoke(channel: string, input?: unknown) {
          if (!channels.includes(channel)) return Promise.resolve({ ok: false, error: { code: 'ERR_IPC_INPUT', message: `Unknown channel ${channel}.` } });
          return w.__consoleInvoke(channel, input);
        },
        subscribe(topic: string, listener: (p: unknown) => void) {
          if (!topics.includes(topic)) throw new Error(`Unknown topic ${topic}`);
          let set = listeners.get(topic);
          if (!set) listeners.set(topic, (set = new Set()));
          set.add(listener);
          return () => void set.delete(listener);
        },
      });
    },
    { channels: [...CHANNELS] as string[], topics: [...TOPICS] as string[] },
  );

  return {
    handlers,
    events,
    calls,
    dispose: () => handlers.dispose(),
  };
}
