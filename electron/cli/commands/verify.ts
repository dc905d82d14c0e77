import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const verifyCommand: Command = {
  name: 'verify',
  summary: '(not yet available)',
  usage: 'mirror verify: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror verify is not available in this build yet.');
  },
};
