import type { Command } from '../command';
import { auditCommand } from './audit';
import { checklistCommand } from './checklist';
import { importCommand } from './import';
import { keysCommand } from './keys';
import { retentionCommand } from './retention';
import { rollbackCommand } from './rollback';
import { statusCommand } from './status';
import { verifyCommand } from './verify';

/** Every sub-command, in the order `mirror --help` lists them. */
export const commands: Command[] = [
  verifyCommand,
  importCommand,
  statusCommand,
  rollbackCommand,
  retentionCommand,
  keysCommand,
  auditCommand,
  checklistCommand,
];
