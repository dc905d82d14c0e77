/** Where a command's workspace is when none is given. Tiny on purpose: the `mirror` launcher imports it. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The default workspace in the user's data folder ($XDG_DATA_HOME). */
export function defaultWorkspaceDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0 ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'export-center-console', 'workspace');
}
