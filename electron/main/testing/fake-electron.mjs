// A fake of the Electron API subset the shell uses (types/electron.d.ts), for
// running the REAL built main process in plain Node. It records what the main
// process configures, then exercises it the way Electron would (protocol
// requests, IPC invocations from trusted and foreign frames, navigation, new
// windows, permissions, network requests, quit) and writes a JSON report to
// $FAKE_ELECTRON_REPORT.
import { writeFileSync } from 'node:fs';

const report = {
  privilegedSchemes: null,
  sandboxEnabled: false,
  singleInstanceAsked: false,
  windows: [],
  loadedUrls: [],
  protocol: {},
  ipc: {},
  lockdown: {},
  permissions: {},
  network: {},
  quit: {},
  errors: [],
  exitCode: null,
  switches: [],
  nativeBindingEnv: null,
};
const appListeners = {};
const ipcHandlers = new Map();
let protocolHandler = null;
let permissionRequest = null;
let permissionCheck = null;
let beforeRequest = null;
let quitCount = 0;

function finish() {
  writeFileSync(process.env.FAKE_ELECTRON_REPORT, JSON.stringify(report, null, 2));
  process.exit(0);
}

async function exercise() {
  try {
    report.nativeBindingEnv = process.env.OKC_SQLITE_NATIVE_BINDING ?? null;
    // Protocol: the renderer's index and an escape attempt.
    const index = await protocolHandler({ url: 'app://console/index.html' });
    report.protocol.index = { status: index.status, csp: index.headers.get('content-security-policy'), body: (await index.text()).slice(0, 200) };
    const escape = await protocolHandler({ url: 'app://console/../../package.json' });
    report.protocol.escape = { status: escape.status };
    // Every response of the handler, found or not, carries the CSP.
    report.protocol.cspByUrl = {};
    for (const url of ['app://console/', 'app://console/index.html', 'app://console/missing.js', 'app://console/%2e%2e/secret', 'app://other/index.html']) {
      const r = await protocolHandler({ url });
      report.protocol.cspByUrl[url] = { status: r.status, csp: r.headers.get('content-security-policy') };
    }

    // IPC: every registered channel; a trusted call, a foreign frame, bad input.
    report.ipc.channels = [...ipcHandlers.keys()].sort();
    const info = ipcHandlers.get('app.info');
    report.ipc.trusted = await info({ senderFrame: { url: 'app://console/index.html' } }, {});
    report.ipc.foreign = await info({ senderFrame: { url: 'https://evil.example/' } }, {});
    report.ipc.noFrame = await info({ senderFrame: null }, {});
    report.ipc.badInput = await ipcHandlers.get('import.start')({ senderFrame: { url: 'app://console/index.html' } }, { paths: [] });

    // Lockdown of every web contents.
    const contents = { on: {}, openHandler: null };
    const wc = {
      on(ev, fn) {
        contents.on[ev] = fn;
        return wc;
      },
      setWindowOpenHandler(fn) {
        contents.openHandler = fn;
      },
    };
    appListeners['web-contents-created']?.({ preventDefault() {} }, wc);
    const prevented = {};
    for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      let p = false;
      contents.on[ev]?.({ preventDefault: () => (p = true) }, 'https://example.com/');
      prevented[ev] = p;
    }
    report.lockdown = { prevented, windowOpen: contents.openHandler ? contents.openHandler({ url: 'https://example.com/' }) : null };

    // Permissions and network.
    let granted = null;
    permissionRequest?.(wc, 'media', (g) => (granted = g));
    report.permissions = { request: granted, check: permissionCheck ? permissionCheck(wc, 'clipboard-read') : null };
    const net = {};
    for (const url of ['https://example.com/', 'http://127.0.0.1:8080/', 'app://console/assets/x.js', 'file:///etc/passwd', 'ws://127.0.0.1:9222/', 'data:text/html,x', 'app://other/x.js', 'blob:app://console/1']) {
      beforeRequest?.({ url }, (r) => (net[url] = r.cancel === true));
    }
    report.network = net;

    // Quit (as the operator closing the app): the main process first disposes
    // (cancels jobs, closes the DB), then quits again for real.
    app.quit();
  } catch (e) {
    report.errors.push(String(e && e.stack ? e.stack : e));
    finish();
  }
}

export const app = {
  isPackaged: process.env.FAKE_ELECTRON_PACKAGED === '1',
  commandLine: {
    appendSwitch(name, value) {
      report.switches.push(value === undefined ? name : `${name}=${value}`);
    },
  },
  whenReady: () => Promise.resolve(),
  getPath: (name) => (name === 'userData' ? process.env.FAKE_USER_DATA : '/tmp'),
  getVersion: () => '0.0.0-fake',
  requestSingleInstanceLock() {
    report.singleInstanceAsked = true;
    return true;
  },
  enableSandbox() {
    report.sandboxEnabled = true;
  },
  on(event, listener) {
    appListeners[event] = listener;
  },
  quit() {
    quitCount++;
    const ev = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    appListeners['before-quit']?.(ev);
    if (quitCount === 1) report.quit.firstPrevented = ev.defaultPrevented;
    else report.quit.secondPrevented = ev.defaultPrevented;
    if (ev.defaultPrevented) return;
    report.quit.quitCalls = quitCount;
    finish();
  },
  exit(code) {
    report.exitCode = code;
    // The headless `mirror` entry leaves through app.exit; the window path never should.
    if (report.windows.length > 0 || process.env.FAKE_EXPECT_EXIT !== '1') report.errors.push(`app.exit(${code})`);
    report.nativeBindingEnv = process.env.OKC_SQLITE_NATIVE_BINDING ?? null;
    finish();
  },
};

export class BrowserWindow {
  static all = [];
  static getAllWindows() {
    return BrowserWindow.all;
  }
  constructor(options) {
    report.windows.push(options);
    BrowserWindow.all.push(this);
    this.webContents = { id: 1, send() {}, isDestroyed: () => false, setWindowOpenHandler() {}, on() { return this; } };
  }
  async loadURL(url) {
    report.loadedUrls.push(url);
    setImmediate(() => void exercise());
  }
  show() {}
  focus() {}
  restore() {}
  isMinimized() {
    return false;
  }
  isDestroyed() {
    return false;
  }
  once() {
    return this;
  }
  on() {
    return this;
  }
}

export const ipcMain = {
  handle(channel, listener) {
    if (ipcHandlers.has(channel)) report.errors.push(`second handler for ${channel}`);
    ipcHandlers.set(channel, listener);
  },
  removeHandler(channel) {
    ipcHandlers.delete(channel);
  },
};

export const protocol = {
  registerSchemesAsPrivileged(schemes) {
    report.privilegedSchemes = schemes;
  },
  handle(scheme, handler) {
    report.protocolScheme = scheme;
    protocolHandler = handler;
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler(h) {
      permissionRequest = h;
    },
    setPermissionCheckHandler(h) {
      permissionCheck = h;
    },
    webRequest: {
      onBeforeRequest(l) {
        beforeRequest = l;
      },
    },
  },
};

export const dialog = {
  async showOpenDialog() {
    return { canceled: true, filePaths: [] };
  },
};

export class Menu {
  constructor(template) {
    this.template = template;
  }
  static buildFromTemplate(template) {
    return new Menu(template);
  }
  static setApplicationMenu(menu) {
    report.menu = menu ? menu.template.map((m) => ({ label: m.label, items: (m.submenu ?? []).map((i) => i.label ?? i.role ?? i.type) })) : null;
    // Click every Help entry: each opens a file of the operator guide.
    const help = menu?.template.find((m) => m.label === 'Help');
    report.helpOpened = [];
    for (const item of help?.submenu ?? []) item.click?.();
  }
}

export const shell = {
  async openPath(path) {
    report.helpOpened.push(path);
    return '';
  },
};

export const contextBridge = { exposeInMainWorld() {} };
export const ipcRenderer = { invoke: async () => undefined, on() {} };
export default { app, BrowserWindow, ipcMain, protocol, session, dialog, Menu, shell, contextBridge, ipcRenderer };
