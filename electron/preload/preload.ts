// Sandboxed preload: filled in by the shell work (issue 2).
import { contextBridge } from 'electron';

contextBridge.exposeInMainWorld('consoleApi', {});
