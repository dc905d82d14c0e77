/** The workspace folder layout (see docs/architecture.md). One place names every path. */
import { join } from 'node:path';

export interface WorkspaceLayout {
  dir: string;
  manifest: string; // workspace.json
  lock: string;
  db: string; // console.db
  library: string;
  incoming: string;
  staging: string;
  current: string; // staging/current -> <seq>
  trivy: string; // trivy/ (db/ inside is Trivy's --cache-dir layout)
  journal: string;
  logs: string;
  metrics: string;
  evidence: string;
}

export function workspaceLayout(dir: string): WorkspaceLayout {
  return {
    dir,
    manifest: join(dir, 'workspace.json'),
    lock: join(dir, 'lock'),
    db: join(dir, 'console.db'),
    library: join(dir, 'library'),
    incoming: join(dir, 'incoming'),
    staging: join(dir, 'staging'),
    current: join(dir, 'staging', 'current'),
    trivy: join(dir, 'trivy'),
    journal: join(dir, 'journal'),
    logs: join(dir, 'logs'),
    metrics: join(dir, 'metrics'),
    evidence: join(dir, 'evidence'),
  };
}
