/**
 * Generates docs/operator/errors.md from shared/errors.ts (through
 * shared/error-guide.ts) so the page cannot drift from the code:
 *   npx tsx build/operator-docs.ts --write
 * build/operator-docs.test.ts fails when the checked-in page differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_GUIDE } from '../shared/error-guide';

export const ERRORS_PAGE = join(fileURLToPath(new URL('..', import.meta.url)), 'docs', 'operator', 'errors.md');

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderErrorsPage(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- GENERATED from shared/errors.ts and shared/error-guide.ts by `npx tsx build/operator-docs.ts --write`. Do not edit by hand. -->',
    '',
    'Every refusal names one of these codes, says in plain words what is wrong, names the',
    'file at fault where there is one, and gives the action below. The exit code is the',
    "`mirror` command's. `mirror help <code>` prints one entry.",
    '',
    '| code | exit | origin |',
    '|---|---|---|',
    ...ERROR_GUIDE.map((e) => `| [${e.code}](#${e.code.toLowerCase()}) | ${e.exitCode} | ${e.origin} |`),
    '',
  ];
  for (const e of ERROR_GUIDE) {
    out.push(`## ${e.code}`, '', `Exit code ${e.exitCode} (${e.origin}).`, '', `**Cause.** ${cell(e.cause)}`, '', `**Action.** ${cell(e.action)}`, '');
    if (e.followUp) out.push(`**Follow-up.** ${cell(e.followUp)}`, '');
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  writeFileSync(ERRORS_PAGE, renderErrorsPage());
  process.stdout.write(`wrote ${ERRORS_PAGE}\n`);
}
