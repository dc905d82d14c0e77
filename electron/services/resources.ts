/** Locates the package root (for resources/) from source (tests, tsx) or from the bundled dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'resources'))) return (cached = dir);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error('Cannot locate the console package root (package.json beside resources/).');
}

export function resourcePath(...parts: string[]): string {
  return join(packageRoot(), 'resources', ...parts);
}
