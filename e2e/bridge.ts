/**
 * The browser e2e bridge: serves the built renderer from dist/renderer through
 * a route handler (no server, no network) with the app:// file server's rules
 * and CSP, and provides `window.consoleApi` exactly as the browser shell does
 * (electron/browser/console-api.ts), forwarding every call to the REAL handler
 * table (createHandlers + registerHandlers, with the same sender check) running
 * in the test process against a real temp workspace. Topic events are pushed
 * into the page the same way the main process pushes them to the window.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import type { Topic, Topics } from '../shared/contract';
import { mountConsoleApi, pushEvent } from '../electron/browser/console-api';
import { createHandlers, type HandlerDeps, type Handlers } from '../electron/ipc/handlers';
import { BROWSER_APP_ORIGIN, serveRendererRequest } from '../electron/main/renderer-files';
import { REPO_ROOT } from '../electron/services/testing/fixtures';

export const RENDERER_DIR = join(REPO_ROOT, 'dist', 'renderer');
/** The origin the built renderer is served from (routed, never resolved on the network). */
export const ORIGIN = BROWSER_APP_ORIGIN;
export const APP_URL = `${ORIGIN}/index.html`;

/** Serves dist/renderer for ORIGIN and refuses every other request. */
export async function serveRenderer(context: BrowserContext): Promise<void> {
  if (!existsSync(join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`The renderer is not built (${RENDERER_DIR}/index.html is missing): run npm run build:renderer first.`);
  }
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (!url.startsWith(`${ORIGIN}/`)) return route.abort('blockedbyclient');
    const r = await serveRendererRequest(RENDERER_DIR, url, ORIGIN);
    return route.fulfill({ status: r.status, headers: r.headers, body: r.body });
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
 * registered through `registerHandlers`, so the browser path runs the same
 * sender check (main frame, app origin) and zod parsing as the app.
 */
export async function installBridge(page: Page, deps: Omit<HandlerDeps, 'emit'>): Promise<Bridge> {
  const events: Bridge['events'] = [];
  const calls: Bridge['calls'] = [];
  const emit = <T extends Topic>(topic: T, payload: Topics[T]) => {
    events.push({ topic, payload });
    pushEvent(page, topic, payload);
  };
  const handlers = createHandlers({ ...deps, emit });
  await mountConsoleApi(page, handlers.table, {
    onCall: (channel, env) => calls.push({ channel, ok: env.ok, code: env.ok ? undefined : env.error.code }),
  });
  return { handlers, events, calls, dispose: () => handlers.dispose() };
}
