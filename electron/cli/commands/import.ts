import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const importCommand: Command = {
  name: 'import',
  summary: '(not yet available)',
  usage: 'mirror import: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror import is not available in this build yet.');
  },
};
