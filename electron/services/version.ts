/** The console's version, injected at build time by esbuild (`__APP_VERSION__`), read from package.json otherwise. */
import { readFileSync } from 'node:fs';
import { packageRoot } from './resources';

declare const __APP_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __APP_VERSION__ === 'string') return __APP_VERSION__;
  const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
  return pkg.version;
}

export const APP_VERSION: string = readVersion();
