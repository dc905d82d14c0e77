import { describe, expect, it } from 'vitest';
import { headlessCliArgs, lockDownDevOverrides } from './headless';

describe('the headless entry and the packaged lock-down', () => {
  it('finds `mirror` as the first user argument, packaged or from a checkout, after Chromium switches', () => {
    expect(headlessCliArgs(['/opt/app/export-center-console', 'mirror', 'status', '--workspace', '/srv/okc'], true)).toEqual(['status', '--workspace', '/srv/okc']);
    expect(headlessCliArgs(['/opt/app/export-center-console', '--no-sandbox', 'mirror', '--help'], true)).toEqual(['--help']);
    expect(headlessCliArgs(['electron', '/repo', 'mirror', 'verify', 'x'], false)).toEqual(['verify', 'x']);
    expect(headlessCliArgs(['/opt/app/export-center-console'], true)).toBeNull();
    expect(headlessCliArgs(['electron', '/repo'], false)).toBeNull();
    // A file named mirror opened later, or `mirror` as an option value, is not the headless entry.
    expect(headlessCliArgs(['/opt/app/export-center-console', 'other', 'mirror'], true)).toBeNull();
  });

  it('removes development overrides only in a packaged app', () => {
    const env: NodeJS.ProcessEnv = { OKC_SQLITE_NATIVE_BINDING: '/x.node', ELECTRON_OVERRIDE_DIST_PATH: '/e', OKC_WORKSPACE: '/srv/okc' };
    expect(lockDownDevOverrides(env, false)).toEqual([]);
    expect(env.OKC_SQLITE_NATIVE_BINDING).toBe('/x.node');
    expect(lockDownDevOverrides(env, true)).toEqual(['OKC_SQLITE_NATIVE_BINDING', 'ELECTRON_OVERRIDE_DIST_PATH']);
    expect(env).toEqual({ OKC_WORKSPACE: '/srv/okc' });
  });
});
