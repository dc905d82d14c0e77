import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Card, CardBody, CardTitle, Flex } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { LibraryEntry, RetentionView } from '../../../../shared/contract';
import { BundleFiles } from './BundleFiles';
import { useInvoke } from '../../api/ApiProvider';
import { ConfirmAction } from '../../components/ConfirmAction';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { StatusLabel } from '../../components/Status';
import { formatBytes, formatTime, shortDigest } from '../../components/format';
import { sortLibrary } from './sort';

const hasFileList = (e: LibraryEntry) => e.kind === 'mirror-full' || e.kind === 'mirror-delta';

export function LibraryPage() {
  const invoke = useInvoke();
  const lib = useQuery({ queryKey: ['library', 'list'], queryFn: () => invoke('library.list', {}) });
  const [shown, setShown] = useState<string | null>(null);
  const shownEntry = lib.data?.find((e) => e.sha256 === shown) ?? null;
  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Library">
        <CardTitle component="h2">Bundles</CardTitle>
        <CardBody>
          <p className="okc-muted pf-v6-u-mb-sm">Verified bundles kept in the workspace for re-application and audit (content-addressed), in generation order.</p>
          {lib.isPending && <Loading what="the library" />}
          {lib.error && <ErrorDetails error={lib.error} title="Library unavailable" />}
          {lib.data && lib.data.length === 0 && <p>The library is empty. Import a bundle or kit to fill it.</p>}
          {lib.data && lib.data.length > 0 && (
            <Table role="table" aria-label="Bundles in the library" variant="compact">
              <Thead>
                <Tr>
                  <Th>Generation</Th>
                  <Th>Kind</Th>
                  <Th>Export</Th>
                  <Th>Size</Th>
                  <Th>SHA-256</Th>
                  <Th>File</Th>
                  <Th screenReaderText="Files in the bundle" />
                </Tr>
              </Thead>
              <Tbody>
                {sortLibrary(lib.data).map((e) => (
                  <Tr key={e.sha256 + e.file}>
                    <Td dataLabel="Generation">{e.generation ?? '–'}</Td>
                    <Td dataLabel="Kind">{e.kind}</Td>
                    <Td dataLabel="Export">
                      <code>{e.exportId ?? '–'}</code>
                    </Td>
                    <Td dataLabel="Size">{formatBytes(e.size)}</Td>
                    <Td dataLabel="SHA-256">
                      <code title={e.sha256}>{shortDigest(e.sha256)}</code>
                    </Td>
                    <Td dataLabel="File">
                      <code>{e.file}</code>
                    </Td>
                    <Td dataLabel="Files">
                      {hasFileList(e) && (
                        <Button variant="link" isInline onClick={() => setShown(e.sha256)} aria-label={`Show the files of ${e.file.split('/').pop()}`}>
                          Files
                        </Button>
                      )}
                    </Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          )}
        </CardBody>
      </Card>
      {shownEntry && <BundleFiles key={shownEntry.sha256} entry={shownEntry} onClose={() => setShown(null)} />}
      <Retention />
    </Flex>
  );
}

/** Runbook 5.2: preview what the policy prunes (nothing changes), then run it with a reason. */
function Retention() {
  const invoke = useInvoke();
  const preview = useMutation({ mutationFn: () => invoke('retention.preview', {}) });
  const [confirming, setConfirming] = useState(false);
  const run = useMutation({
    mutationFn: (reason: string) => invoke('retention.run', { reason }),
    onSuccess: () => {
      setConfirming(false);
      preview.reset();
    },
  });
  const shown: RetentionView | undefined = run.data ?? preview.data;
  return (
    <Card component="section" aria-label="Retention">
      <CardTitle component="h2">Retention (runbook 5.2)</CardTitle>
      <CardBody>
        <p className="okc-muted pf-v6-u-mb-sm">Prunes the library by the retention settings; never what the current generation needs. Every run is recorded in the audit log (the daily checklist looks for one).</p>
        <Flex gap={{ default: 'gapSm' }}>
          <Button variant="secondary" onClick={() => preview.mutate()} isLoading={preview.isPending} isDisabled={preview.isPending}>
            Preview retention
          </Button>
          <Button variant="primary" onClick={() => setConfirming(true)} isDisabled={run.isPending}>
            Run retention…
          </Button>
        </Flex>
        {preview.error && <ErrorDetails error={preview.error} title="Retention preview failed" />}
        {shown && <RetentionResult r={shown} />}
      </CardBody>
      {confirming && (
        <ConfirmAction
          isOpen
          title="Run retention"
          description={
            preview.data ? (
              <p>
                {preview.data.pruned.length} bundle(s) will be deleted from the library ({formatBytes(preview.data.freedBytes)}); {preview.data.kept.length} kept.
              </p>
            ) : (
              <p>Bundles the policy no longer keeps are deleted from the library. Preview first to see which.</p>
            )
          }
          confirmLabel="Prune the library"
          risk="medium"
          busy={run.isPending}
          error={run.error}
          onConfirm={(reason) => run.mutate(reason)}
          onClose={() => {
            setConfirming(false);
            run.reset();
          }}
        />
      )}
    </Card>
  );
}

function RetentionResult({ r }: { r: RetentionView }) {
  const rows = [...r.pruned.map((d) => ({ ...d, prune: true })), ...r.kept.map((d) => ({ ...d, prune: false }))];
  return (
    <section aria-label={r.dryRun ? 'Retention preview' : 'Retention run'} className="pf-v6-u-mt-md">
      <p role="status">
        {r.dryRun ? 'Preview (nothing changed): ' : `Retention ran at ${formatTime(r.ranAt)}: `}
        {r.pruned.length} {r.dryRun ? 'would be pruned' : 'pruned'} ({formatBytes(r.freedBytes)}), {r.kept.length} kept. Policy: mirror bundles {r.policy.mirrorDays} days, {r.policy.trivyCount} Trivy bundles, {r.policy.keepDeltas} deltas after the latest full.
      </p>
      {rows.length > 0 && (
        <Table role="table" aria-label={r.dryRun ? 'What retention would do' : 'What retention did'} variant="compact">
          <Thead>
            <Tr>
              <Th>Decision</Th>
              <Th>Generation</Th>
              <Th>Kind</Th>
              <Th>File</Th>
              <Th>Why</Th>
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((d) => (
              <Tr key={d.sha256}>
                <Td dataLabel="Decision">
                  <StatusLabel tone={d.prune ? 'warn' : 'ok'} compact>
                    {d.prune ? (r.dryRun ? 'prune' : 'pruned') : 'keep'}
                  </StatusLabel>
                </Td>
                <Td dataLabel="Generation">{d.generation ?? '–'}</Td>
                <Td dataLabel="Kind">{d.kind}</Td>
                <Td dataLabel="File">
                  <code>{d.file}</code>
                </Td>
                <Td dataLabel="Why">{d.reason}</Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
    </section>
  );
}
