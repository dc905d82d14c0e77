import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useInvoke } from '../../api/ApiProvider';
import { ConfirmAction, type Risk } from '../../components/ConfirmAction';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { StatusLabel } from '../../components/Status';
import { formatTime, shortDigest } from '../../components/format';
import { VerdictView } from '../../components/VerdictView';

/** Rolling back one generation is routine (a reason); further back also needs the generation typed. */
export function rollbackRisk(current: number | null, target: number): Risk {
  return current !== null && current - target <= 1 ? 'medium' : 'high';
}

export function StagingPage() {
  const invoke = useInvoke();
  const status = useQuery({ queryKey: ['workspace', 'status'], queryFn: () => invoke('workspace.status', {}) });
  const [deep, setDeep] = useState(false);
  const deepStatus = useQuery({ queryKey: ['workspace', 'status', 'deep'], queryFn: () => invoke('workspace.status', { deep: true }), enabled: deep });
  const [target, setTarget] = useState<number | null>(null);
  const rollback = useMutation({
    mutationFn: (v: { to: number; reason: string }) => invoke('staging.rollback', v),
    onSuccess: () => {
      setTarget(null);
    },
  });
  const s = status.data;

  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Current generation">
        <CardTitle component="h2">Current generation</CardTitle>
        <CardBody>
          {status.isPending && <Loading what="workspace status" />}
          {status.error && <ErrorDetails error={status.error} title="Workspace status unavailable" />}
          {s && (
            <>
              <DescriptionList isCompact isHorizontal>
                <DescriptionListGroup>
                  <DescriptionListTerm>Export</DescriptionListTerm>
                  <DescriptionListDescription>{s.exportId ? <code>{s.exportId}</code> : 'nothing applied yet'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Generation</DescriptionListTerm>
                  <DescriptionListDescription>{s.generation ?? '–'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>State digest</DescriptionListTerm>
                  <DescriptionListDescription>
                    <code>{s.stateDigest ?? '–'}</code>
                  </DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
              {s.importsFrozen && (
                <Alert variant="warning" isInline title="Imports are frozen" className="pf-v6-u-mt-md">
                  Since {formatTime(s.importsFrozen.since)}: {s.importsFrozen.reason}. Resume them with procedure 7.3 on the Checklists page.
                </Alert>
              )}
              <Button variant="secondary" className="pf-v6-u-mt-md" onClick={() => (deep ? void deepStatus.refetch() : setDeep(true))} isDisabled={deepStatus.isFetching} isLoading={deepStatus.isFetching}>
                Recompute the state digest from disk
              </Button>
              {deepStatus.isFetching && <Loading what="every file of the current generation" />}
              {deepStatus.error && <ErrorDetails error={deepStatus.error} title="Deep check failed" />}
              {deepStatus.data && !deepStatus.isFetching && (
                <>
                  <p role="status" className="pf-v6-u-mt-md">
                    Recomputed digest <code>{shortDigest(deepStatus.data.stateDigest)}</code>
                    {deepStatus.data.stateDigest === s.stateDigest ? ' matches the recorded state.' : ' differs from the recorded state.'}
                  </p>
                  {deepStatus.data.deep && <VerdictView verdict={deepStatus.data.deep} />}
                </>
              )}
            </>
          )}
        </CardBody>
      </Card>

      <Card component="section" aria-label="Generations">
        <CardTitle component="h2">Kept generations</CardTitle>
        <CardBody>
          {s && s.generations.length === 0 && <p>No generation yet.</p>}
          {s && s.generations.length > 0 && (
            <Table role="table" aria-label="Staging generations" variant="compact">
              <Thead>
                <Tr>
                  <Th>Generation</Th>
                  <Th>Export</Th>
                  <Th>Applied</Th>
                  <Th screenReaderText="Actions" />
                </Tr>
              </Thead>
              <Tbody>
                {[...s.generations]
                  .sort((a, b) => b.generation - a.generation)
                  .map((g) => {
                    const current = g.generation === s.generation && g.exportId === s.exportId;
                    return (
                      <Tr key={`${g.generation}-${g.exportId}-${g.appliedAt}`}>
                        <Td dataLabel="Generation">{g.generation}</Td>
                        <Td dataLabel="Export">
                          <code>{g.exportId}</code>
                        </Td>
                        <Td dataLabel="Applied">{formatTime(g.appliedAt)}</Td>
                        <Td isActionCell>
                          {current ? (
                            <StatusLabel tone="ok" compact>
                              current
                            </StatusLabel>
                          ) : (
                            <Button variant="secondary" size="sm" onClick={() => setTarget(g.generation)}>
                              Roll back to {g.generation}
                            </Button>
                          )}
                        </Td>
                      </Tr>
                    );
                  })}
              </Tbody>
            </Table>
          )}
          <p className="okc-muted pf-v6-u-mt-sm">Rollback deep-verifies the target generation first, switches atomically and is recorded in the audit log with your reason.</p>
          {rollback.data && (
            <p role="status">
              Rolled back: generation {rollback.data.generation} (<code>{rollback.data.exportId}</code>) is current.
            </p>
          )}
        </CardBody>
      </Card>
      {target !== null && s && (
        <ConfirmAction
          isOpen
          title={`Roll back to generation ${target}`}
          description={
            <p>
              Staging switches from generation {s.generation ?? '–'} to generation {target} after {target}'s files are verified again. Bundles applied after it stay in the library and can be re-imported.
            </p>
          }
          confirmLabel={`Roll back to ${target}`}
          risk={rollbackRisk(s.generation, target)}
          confirmWord={String(target)}
          busy={rollback.isPending}
          error={rollback.error}
          onConfirm={(reason) => rollback.mutate({ to: target, reason })}
          onClose={() => {
            setTarget(null);
            rollback.reset();
          }}
        />
      )}
    </Flex>
  );
}
