export function Loading({ what }: { what: string }) {
  return (
    <p className="okc-muted" role="status">
      Loading {what}…
    </p>
  );
}
