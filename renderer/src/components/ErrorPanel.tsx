import type { OpsErrorShape } from '../../../shared/errors';
import { toShape } from '../api/ApiProvider';

/** An error in plain words: what went wrong (code + message) and what to do (action). */
export function ErrorPanel({ error, title }: { error: unknown; title?: string }) {
  const e: OpsErrorShape = isShape(error) ? error : toShape(error);
  return (
    <div className="error-panel" role="alert" aria-label={title ?? 'Error'}>
      <p className="error-title">
        <strong>{title ?? 'The console could not do this'}</strong> <code className="code">{e.code}</code>
      </p>
      <p className="error-message">{e.message}</p>
      {e.path && (
        <p className="error-path">
          Where: <code>{e.path}</code>
        </p>
      )}
      {e.action && (
        <p className="error-action">
          <strong>What to do:</strong> {e.action}
        </p>
      )}
    </div>
  );
}

function isShape(x: unknown): x is OpsErrorShape {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x && !(x instanceof Error);
}
