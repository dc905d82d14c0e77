// The subset of Electron's API the shell uses (Electron 38). The electron
// package (and its typings) cannot be installed on machines without internet
// access, so the shell is typechecked against these declarations everywhere.
// Keep this to exactly what electron/main and electron/preload call.
declare module 'electron' {
  export interface Event {
    preventDefault(): void;
  }

  export interface WebFrameMain {
    url: string;
  }

  export interface IpcMainInvokeEvent extends Event {
    senderFrame: WebFrameMain | null;
  }

  export interface IpcRendererEvent extends Event {
    senderId: number;
  }

  export interface HandlerDetails {
    url: string;
  }

  export interface WebContents {
    send(channel: string, ...args: unknown[]): void;
    isDestroyed(): boolean;
    setWindowOpenHandler(handler: (details: HandlerDetails) => { action: 'deny' } | { action: 'allow' }): void;
    on(event: 'will-navigate' | 'will-redirect' | 'will-attach-webview', listener: (event: Event, ...args: unknown[]) => void): this;
  }

  export interface WebPreferences {
    preload?: string;
    contextIsolation?: boolean;
    sandbox?: boolean;
    nodeIntegration?: boolean;
    nodeIntegrationInSubFrames?: boolean;
    nodeIntegrationInWorker?: boolean;
    webSecurity?: boolean;
    allowRunningInsecureContent?: boolean;
    webviewTag?: boolean;
    spellcheck?: boolean;
    devTools?: boolean;
    navigateOnDragDrop?: boolean;
    safeDialogs?: boolean;
  }

  export interface BrowserWindowConstructorOptions {
    width?: number;
    height?: number;
    minWidth?: number;
    minHeight?: number;
    title?: string;
    show?: boolean;
    backgroundColor?: string;
    autoHideMenuBar?: boolean;
    webPreferences?: WebPreferences;
  }

  export class BrowserWindow {
    constructor(options?: BrowserWindowConstructorOptions);
    static getAllWindows(): BrowserWindow[];
    webContents: WebContents;
    loadURL(url: string): Promise<void>;
    show(): void;
    focus(): void;
    restore(): void;
    isMinimized(): boolean;
    isDestroyed(): boolean;
    once(event: 'ready-to-show', listener: () => void): this;
    on(event: 'closed', listener: () => void): this;
  }

  export const app: {
    whenReady(): Promise<void>;
    quit(): void;
    exit(code?: number): void;
    isPackaged: boolean;
    commandLine: { appendSwitch(name: string, value?: string): void };
    getPath(name: 'userData'): string;
    requestSingleInstanceLock(): boolean;
    enableSandbox(): void;
    on(event: 'second-instance', listener: () => void): void;
    on(event: 'window-all-closed', listener: () => void): void;
    on(event: 'before-quit', listener: (event: Event) => void): void;
    on(event: 'web-contents-created', listener: (event: Event, contents: WebContents) => void): void;
  };

  export const ipcMain: {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown> | unknown): void;
    removeHandler(channel: string): void;
  };

  export const ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): void;
  };

  export const contextBridge: {
    exposeInMainWorld(key: string, api: unknown): void;
  };

  export interface CustomScheme {
    scheme: string;
    privileges?: { standard?: boolean; secure?: boolean; supportFetchAPI?: boolean };
  }

  export const protocol: {
    registerSchemesAsPrivileged(schemes: CustomScheme[]): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };

  export interface OnBeforeRequestListenerDetails {
    url: string;
  }

  export interface Session {
    setPermissionRequestHandler(handler: ((webContents: WebContents, permission: string, callback: (granted: boolean) => void) => void) | null): void;
    setPermissionCheckHandler(handler: ((webContents: WebContents | null, permission: string) => boolean) | null): void;
    webRequest: {
      onBeforeRequest(listener: (details: OnBeforeRequestListenerDetails, callback: (response: { cancel?: boolean }) => void) => void): void;
    };
  }

  export const session: {
    defaultSession: Session;
  };

  export interface OpenDialogOptions {
    title?: string;
    properties?: ('openFile' | 'openDirectory')[];
  }

  export const dialog: {
    showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>;
  };

  export interface MenuItemConstructorOptions {
    label?: string;
    role?: string;
    type?: 'separator' | 'normal' | 'submenu';
    submenu?: MenuItemConstructorOptions[];
    click?: () => void;
  }
  export class Menu {
    static buildFromTemplate(template: MenuItemConstructorOptions[]): Menu;
    static setApplicationMenu(menu: Menu | null): void;
  }

  export const shell: {
    openPath(path: string): Promise<string>;
  };
}
