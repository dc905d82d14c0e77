/**
 * The browser shell: the console in the installed Chromium / Chrome / Edge,
 * where no Electron binary exists (`npm start` chooses it; see build/start.mjs).
 *
 * - One app window (`--app`), a fresh profile in the user-data folder (wiped
 *   at every start), no extensions, no sync, no first-run UI, driven over a
 *   CDP pipe (playwright-core `launchPersistentContext`: no listening port).
 * - Content: the built renderer served by request routing under
 *   https://console.invalid (the app:// file server's rules and CSP); every
 *   other request is aborted, so nothing ever reaches the network, and the
 *   main frame cannot navigate away.
 * - `window.consoleApi` (invoke/subscribe, contract names only) installed by
 *   `exposeBinding`; every call is checked against the calling frame (the
 *   main frame, on the app origin) and runs the same handler table as the
 *   Electron main process, with verify/import/audit jobs in worker threads.
 * - Permissions, downloads and new windows denied; no native file picker
 *   (the Import page's typed path fields are the way in).
 * - Closing the window, or Ctrl-C / SIGTERM: jobs are cancelled, the database
 *   closed, the browser closed.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page, type Route } from 'playwright-core';
import type { Topic, Topics } from '../../shared/contract';
import { createHandlers, type Handlers } from '../ipc/handlers';
import { workerExec } from '../ipc/engine';
import { BROWSER_APP_ORIGIN, serveRendererRequest } from '../main/renderer-files';
import { mountConsoleApi, pushEvent } from './console-api';

export const PRODUCT_NAME = 'Export Center Offline Console';
export const APP_URL = `${BROWSER_APP_ORIGIN}/index.html`;

/** Permissions denied to every page (the Electron shell's permission handlers answer false to all). */
export const DENIED_PERMISSIONS = [
  'geolocation',
  'notifications',
  'camera',
  'microphone',
  'midi',
  'clipboard-read',
  'clipboard-write',
  'display-capture',
  'idle-detection',
  'local-fonts',
  'window-management',
  'storage-access',
  'persistent-storage',
  'background-sync',
  'payment-handler',
  'screen-wake-lock',
];

/** Electron's userData on Linux ($XDG_CONFIG_HOME or ~/.config, then the product name): both shells share one workspace. */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OKC_USER_DATA) return env.OKC_USER_DATA;
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, PRODUCT_NAME);
}

/** Chromium switches for an app window that talks to nothing but us. */
export function browserArgs(opts: { debugPort?: boolean } = {}): string[] {
  const args = [
    // A neutral first page; the app is loaded once routing and the API are in place.
    `--app=data:text/html,<title>${encodeURIComponent(PRODUCT_NAME)}</title>`,
    '--window-size=1280,860',
    '--disable-extensions',
    '--disable-sync',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-default-apps',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--disable-breakpad',
    '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,InterestFeedContentSuggestions',
    '--metrics-recording-only',
    '--password-store=basic',
  ];
  // Tests only (e2e/browser-shell): lets the test attach to the window it must click in.
  if (opts.debugPort) args.push('--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1');
  return args;
}

/** Routing: the renderer's files for the app origin; every other request aborted (navigations quietly, the rest as blocked). */
export function routeHandler(rendererDir: string) {
  return async (route: Route): Promise<void> => {
    const req = route.request();
    const url = req.url();
    if (url.startsWith(`${BROWSER_APP_ORIGIN}/`)) {
      const r = await serveRendererRequest(rendererDir, url, BROWSER_APP_ORIGIN);
      await route.fulfill({ status: r.status, headers: r.headers, body: r.body });
      return;
    }
    await route.abort(req.isNavigationRequest() ? 'aborted' : 'blockedbyclient');
  };
}

interface ShellOptions {
  executablePath: string;
  rendererDir: string;
  resourcesDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface RunningShell {
  context: BrowserContext;
  page: Page;
  handlers: Handlers;
  /** Resolves when the shell has shut down (window closed, signal, or browser gone). */
  closed: Promise<string>;
  shutdown(reason: string): Promise<void>;
}

export async function startBrowserShell(opts: ShellOptions): Promise<RunningShell> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (!existsSync(join(opts.rendererDir, 'index.html'))) {
    throw new Error(`The renderer is not built (${join(opts.rendererDir, 'index.html')} is missing): run npm run build:renderer.`);
  }
  const userData = userDataDir(env);
  const workspaceDir = env.OKC_WORKSPACE && env.OKC_WORKSPACE.length > 0 ? env.OKC_WORKSPACE : join(userData, 'workspace');
  const profileDir = join(userData, 'browser-profile');
  // A fresh profile every start: nothing carried over (history, storage, permissions).
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });

  const debugPort = env.OKC_BROWSER_SHELL_TEST_DEBUG_PORT === '1';
  if (debugPort) log('WARNING: OKC_BROWSER_SHELL_TEST_DEBUG_PORT=1 opens a local debugging port (for the e2e only).');
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: opts.executablePath,
    headless: false,
    args: browserArgs({ debugPort }),
    // Playwright's automation banner and its default blank tab are not wanted in an app window.
    ignoreDefaultArgs: ['--enable-automation'],
    // Chromium refuses its sandbox as root; everyone else keeps it.
    chromiumSandbox: process.getuid?.() !== 0,
    viewport: null,
    acceptDownloads: false,
    permissions: [],
    serviceWorkers: 'block',
    bypassCSP: false,
    offline: false,
    // The shell closes cleanly on signals itself (jobs, database, then the browser).
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });

  let page: Page = context.pages()[0] ?? (await context.newPage());
  const chromiumVersion = await page
    .evaluate(() => ((globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent.match(/Chrom(?:e|ium)\/([\d.]+)/) ?? [])[1] ?? null)
    .catch(() => null);

  const emit = <T extends Topic>(topic: T, payload: Topics[T]) => pushEvent(page, topic, payload);
  const handlers = createHandlers({
    workspaceDir,
    host: 'browser',
    versions: { chromium: chromiumVersion, electron: null },
    emit,
    exec: workerExec,
    resourcesDir: opts.resourcesDir,
    // No openPath: there is no native picker here; the typed path fields are used.
  });

  await context.route('**/*', routeHandler(opts.rendererDir));
  await mountConsoleApi(context, handlers.table);

  // New windows: closed at once (their requests are aborted anyway).
  context.on('page', (p) => {
    if (p !== page) void p.close().catch(() => {});
  });
  page.on('filechooser', (fc) => void fc.setFiles([]).catch(() => {}));
  page.on('download', (d) => void d.cancel().catch(() => {}));

  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  let shuttingDown: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    shuttingDown = (async () => {
      log(`Closing the console (${reason}): cancelling running jobs and closing the database…`);
      try {
        await handlers.dispose();
      } catch (e) {
        log(`While closing: ${e instanceof Error ? e.message : String(e)}`);
      }
      await context.close().catch(() => {});
      resolveClosed(reason);
    })();
    return shuttingDown;
  };
  page.on('close', () => void shutdown('the window was closed'));
  context.on('close', () => void shutdown('the browser exited'));

  // Every permission a page can ask for is denied outright (no prompt is ever shown).
  // The session stays attached: Chromium drops these overrides when the session that set them detaches.
  const permissionSession = await context.newCDPSession(page);
  for (const name of DENIED_PERMISSIONS) {
    await permissionSession.send('Browser.setPermission', { permission: { name }, setting: 'denied', origin: BROWSER_APP_ORIGIN }).catch(() => {
      /* a name this Chromium does not know */
    });
  }
  await page.goto(APP_URL);
  page = context.pages().find((p) => p.url().startsWith(`${BROWSER_APP_ORIGIN}/`)) ?? page;
  return { context, page, handlers, closed, shutdown };
}

async function main(): Promise<void> {
  // dist/browser/shell.mjs → dist/
  const distDir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const appRoot = join(distDir, '..');
  const executablePath = process.env.OKC_BROWSER_EXECUTABLE;
  if (!executablePath) {
    process.stderr.write('The browser shell needs OKC_BROWSER_EXECUTABLE (a Chromium, Chrome or Edge binary); start it with npm start.\n');
    process.exit(4);
  }
  const shell = await startBrowserShell({
    executablePath,
    rendererDir: join(distDir, 'renderer'),
    resourcesDir: existsSync(join(appRoot, 'resources')) ? join(appRoot, 'resources') : undefined,
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => void shell.shutdown(sig === 'SIGINT' ? 'Ctrl-C' : sig));
  }
  process.stdout.write(`The console is open (workspace: ${(await shell.handlers.table['app.info']({})).workspacePath}).\n`);
  const reason = await shell.closed;
  process.stdout.write(`Closed: ${reason}.\n`);
  process.exit(0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`The browser shell could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
