import type { JobProgress } from '../../../shared/types';
import { formatBytes } from './format';

export function JobProgressBar({ progress, label }: { progress: JobProgress | null | undefined; label: string }) {
  const total = progress?.bytesTotal ?? null;
  const done = progress?.bytesDone ?? 0;
  return (
    <div className="progress" aria-live="polite">
      <progress aria-label={label} max={total ?? undefined} value={total ? Math.min(done, total) : undefined} />
      <p className="muted">
        {progress ? (
          <>
            {progress.phase}
            {progress.member ? (
              <>
                {' '}
                <code>{progress.member}</code>
              </>
            ) : null}{' '}
            — {formatBytes(done)}
            {total ? ` of ${formatBytes(total)}` : ''}
            {progress.bytesPerSecond ? ` at ${formatBytes(progress.bytesPerSecond)}/s` : ''}
          </>
        ) : (
          'Starting…'
        )}
      </p>
    </div>
  );
}
