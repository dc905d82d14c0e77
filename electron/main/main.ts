/**
 * Electron main process: one hardened window showing the built renderer from
 * the app:// protocol (never the network), the contract's handler table
 * registered behind a sender check, and long jobs in worker threads.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, shell, type WebContents } from 'electron';
import { EVENT_CHANNEL, type Topic, type Topics } from '../../shared/contract';
import { OPERATOR_TOPICS } from '../../shared/operator-topics';
import { operatorDocsDir } from '../cli/help';
import { createHandlers, isTrustedSenderUrl, registerHandlers, type Handlers } from '../ipc/handlers';
import { workerExec } from '../ipc/engine';
import { main as runMirrorCli } from '../cli/mirror';
import { runThroughEngine } from '../cli/engine-client';
import { buildIdOf } from '../cli/engine-link';
import { headlessCliArgs, lockDownDevOverrides } from './headless';
import { configureNativeBinding } from './native';
import { APP_INDEX, APP_SCHEME, isAllowedRequestUrl, serveRendererRequest } from './renderer-files';

// dist/main/main.mjs → dist/
const distDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const appRoot = join(distDir, '..');
const rendererDir = join(distDir, 'renderer');
const preloadFile = join(distDir, 'preload', 'preload.cjs');

// A packaged app honours no development override (e.g. a native module named by an environment variable).
lockDownDevOverrides(process.env, app.isPackaged);
const headlessArgs = headlessCliArgs(process.argv, app.isPackaged);

let mainWindow: BrowserWindow | null = null;
let handlers: Handlers | null = null;

function workspaceDir(): string {
  return process.env.OKC_WORKSPACE && process.env.OKC_WORKSPACE.length > 0 ? process.env.OKC_WORKSPACE : join(app.getPath('userData'), 'workspace');
}

function broadcast<T extends Topic>(topic: T, payload: Topics[T]): void {
  for (const w of BrowserWindow.getAllWindows()) {
    if (!w.isDestroyed() && !w.webContents.isDestroyed()) w.webContents.send(EVENT_CHANNEL, { topic, payload });
  }
}

/** Every web contents: no navigation away, no new windows, no webviews. */
function lockDown(contents: WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'Export Center Offline Console',
    show: false,
    backgroundColor: '#f4f5f7',
    autoHideMenuBar: true,
    webPreferences: {
      preload: preloadFile,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      safeDialogs: true,
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadURL(APP_INDEX);
  return win;
}

/** The application menu: Edit/View basics and Help, which opens the operator guide's pages (offline files shipped with the app). */
function installMenu(): void {
  const docs = operatorDocsDir(distDir);
  const open = (file: string) => () => {
    if (docs) void shell.openPath(join(docs, file));
  };
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      { label: 'File', submenu: [{ role: 'quit' }] },
      { label: 'Edit', submenu: [{ role: 'undo' }, { role: 'redo' }, { type: 'separator' }, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] },
      { label: 'View', submenu: [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { role: 'togglefullscreen' }] },
      {
        label: 'Help',
        submenu: [
          { label: 'Operator guide', click: open('README.md') },
          { type: 'separator' },
          ...OPERATOR_TOPICS.map((t) => ({ label: t.title, click: open(t.file) })),
        ],
      },
    ]),
  );
}

async function start(): Promise<void> {
  installMenu();
  if (!app.isPackaged) configureNativeBinding(appRoot, process.versions.electron);

  protocol.handle(APP_SCHEME, async (request) => {
    const r = await serveRendererRequest(rendererDir, request.url);
    return new Response(new Uint8Array(typeof r.body === 'string' ? Buffer.from(r.body) : r.body), { status: r.status, headers: r.headers });
  });

  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequestUrl(details.url) }));

  handlers = createHandlers({
    workspaceDir: workspaceDir(),
    host: 'electron',
    versions: { chromium: process.versions.chrome ?? null, electron: process.versions.electron ?? null },
    emit: broadcast,
    exec: workerExec,
    resourcesDir: existsSync(join(appRoot, 'resources')) ? join(appRoot, 'resources') : undefined,
    openPath: async ({ mode, title }) => {
      if (!mainWindow) return null;
      const r = await dialog.showOpenDialog(mainWindow, { title, properties: [mode === 'file' ? 'openFile' : 'openDirectory'] });
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
    },
  });
  registerHandlers(ipcMain, handlers.table, {
    isTrustedSender: (event) => isTrustedSenderUrl(event.senderFrame?.url, rendererDir),
  });

  mainWindow = createWindow();
}

/** `<app> mirror …`: the CLI in this process, no window (RunAsNode is off in the package). */
async function runHeadless(args: string[]): Promise<void> {
  if (!app.isPackaged) configureNativeBinding(appRoot, process.versions.electron);
  // An import on a workspace `<app> mirror serve` serves runs there (electron/cli/engine-client.ts);
  // the client then prints its output and ends this process itself.
  if (await runThroughEngine(args, () => buildIdOf(fileURLToPath(import.meta.url)))) return;
  let code = 1;
  try {
    code = await runMirrorCli(args);
  } catch (e) {
    process.stderr.write(`mirror: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  app.exit(code);
}

function startGui(): void {
  // The custom scheme must be registered before the app is ready.
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  app.enableSandbox();
  if (!app.requestSingleInstanceLock()) {
    // Another console already runs: it gets focus (second-instance) and this one leaves.
    app.quit();
  } else {
    app.on('second-instance', () => {
      if (!mainWindow) return;
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    });
    app.on('web-contents-created', (_event, contents) => lockDown(contents));
    app.on('window-all-closed', () => app.quit());
    let disposed = false;
    app.on('before-quit', (event) => {
      if (disposed || !handlers) return;
      // Cancel running jobs and close the database before quitting.
      event.preventDefault();
      disposed = true;
      void handlers.dispose().finally(() => app.quit());
    });
    app
      .whenReady()
      .then(start)
      .catch((e: unknown) => {
        process.stderr.write(`The console could not start: ${e instanceof Error ? e.message : String(e)}\n`);
        app.exit(1);
      });
  }
}

if (headlessArgs) {
  // No display is needed for the CLI.
  app.commandLine.appendSwitch('ozone-platform', 'headless');
  void runHeadless(headlessArgs);
} else {
  startGui();
}
