/**
 * `mirror help <topic>`: the operator guide (docs/operator/) offline, and one
 * error code's cause and action (`mirror help ERR_VERIFY_DIGEST`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorGuide } from '../../shared/error-guide';
import { isErrorCode } from '../../shared/errors';
import { OPERATOR_TOPICS, findOperatorTopic } from '../../shared/operator-topics';

/** docs/operator beside the installed code: found by walking up from this bundle (a checkout, dist/, or the packaged app's asar). */
export function operatorDocsDir(from: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    for (const base of [dir, dir.replace(/app\.asar(?=$|[/\\])/, 'app.asar.unpacked')]) {
      const candidate = join(base, 'docs', 'operator');
      if (existsSync(join(candidate, 'README.md'))) return candidate;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export function topicList(): string {
  const width = Math.max(...OPERATOR_TOPICS.map((t) => t.id.length));
  return ['Operator guide (mirror help <topic>):', ...OPERATOR_TOPICS.map((t) => `  ${t.id.padEnd(width)}  ${t.title}`), '  ERR_…  one error code: cause and action'].join('\n');
}

/** The text for a help topic or an error code, or null when `topic` is neither. */
export function helpText(topic: string, docsDir: string | null = operatorDocsDir()): string | null {
  const code = topic.toUpperCase();
  if (isErrorCode(code)) {
    const g = errorGuide(code);
    return [`${g.code} (exit ${g.exitCode}, ${g.origin})`, '', `Cause:  ${g.cause}`, `Action: ${g.action}`, ...(g.followUp ? [`Follow-up: ${g.followUp}`] : [])].join('\n');
  }
  if (topic === 'topics' || topic === 'guide') return topicList();
  const t = findOperatorTopic(topic);
  if (!t) return null;
  if (!docsDir) return `The operator guide is not installed beside this program (docs/operator/${t.file} not found).`;
  return readFileSync(join(docsDir, t.file), 'utf8').trimEnd();
}
