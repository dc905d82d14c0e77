import { useQuery } from '@tanstack/react-query';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatBytes, shortDigest } from '../../components/format';

export function LibraryPage() {
  const invoke = useInvoke();
  const lib = useQuery({ queryKey: ['library', 'list'], queryFn: () => invoke('library.list', {}) });
  return (
    <section className="card card-wide" aria-label="Library">
      <p className="muted">Verified bundles kept in the workspace for re-application and audit (content-addressed).</p>
      {lib.isPending && <Loading what="the library" />}
      {lib.error && <ErrorPanel error={lib.error} title="Library unavailable" />}
      {lib.data && lib.data.length === 0 && <p>The library is empty. Import a bundle or kit to fill it.</p>}
      {lib.data && lib.data.length > 0 && (
        <table>
          <caption className="sr-only">Bundles in the library</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Export</th>
              <th scope="col">Generation</th>
              <th scope="col">Size</th>
              <th scope="col">SHA-256</th>
              <th scope="col">File</th>
            </tr>
          </thead>
          <tbody>
            {lib.data.map((e) => (
              <tr key={e.sha256 + e.file}>
                <td>{e.kind}</td>
                <td>
                  <code>{e.exportId ?? '–'}</code>
                </td>
                <td>{e.generation ?? '–'}</td>
                <td>{formatBytes(e.size)}</td>
                <td>
                  <code title={e.sha256}>{shortDigest(e.sha256)}</code>
                </td>
                <td>
                  <code>{e.file}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
