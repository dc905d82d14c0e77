/** The atomic switch: a symlink replaced by rename of a temporary symlink, then fsync of the folder. */
import { readlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseGenerationName, type WorkspaceLayout } from '../workspace/layout';
import type { StagingFs } from './fsops';

export function switchLink(fs: StagingFs, linkPath: string, target: string, cp: (step: string) => void = () => {}): void {
  const tmp = `${linkPath}.tmp-${process.pid}`;
  fs.rm(tmp);
  cp('switch:symlink');
  fs.symlink(target, tmp);
  cp('switch:rename');
  fs.rename(tmp, linkPath);
  cp('switch:fsync');
  fs.fsyncDir(dirname(linkPath));
}

export function readLinkTarget(linkPath: string): string | null {
  try {
    return readlinkSync(linkPath);
  } catch {
    return null;
  }
}

/** The sequence number staging/current points at, or null. */
export function currentLinkSeq(layout: WorkspaceLayout): number | null {
  const t = readLinkTarget(layout.current);
  if (t === null) return null;
  const p = parseGenerationName(basename(t));
  return p && !p.meta ? p.seq : null;
}
