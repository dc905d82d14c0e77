// The subset of Electron's API the shell uses. The electron package (and its
// typings) cannot be installed on machines without internet access, so the
// shell is typechecked against these declarations everywhere.
declare module 'electron' {
  export const app: {
    whenReady(): Promise<void>;
    quit(): void;
  };
  export const contextBridge: {
    exposeInMainWorld(key: string, api: unknown): void;
  };
}
