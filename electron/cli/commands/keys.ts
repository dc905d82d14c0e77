import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const keysCommand: Command = {
  name: 'keys',
  summary: '(not yet available)',
  usage: 'mirror keys: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror keys is not available in this build yet.');
  },
};
