import { ErrorDetails } from './ErrorDetails';

/** Kept for pages that still import it: the same as <ErrorDetails>. */
export function ErrorPanel({ error, title }: { error: unknown; title?: string }) {
  return <ErrorDetails error={error} title={title} />;
}
