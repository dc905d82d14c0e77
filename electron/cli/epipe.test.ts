import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../services/testing/fixtures';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs');

describe('mirror writing into a closed pipe', () => {
  it.skipIf(!existsSync(CLI))('stops quietly when the reader goes away (`mirror verify … | head -c 10`)', () => {
    const r = spawnSync('bash', ['-c', `node "${CLI}" verify resources/demo-kit --key resources/demo-kit.pub | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}" >&2`], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.stderr).toMatch(/status=0/);
  });
});
