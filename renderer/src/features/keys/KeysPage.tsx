import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  TextArea,
  TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { KeyInspection, KeyView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { ConfirmAction } from '../../components/ConfirmAction';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { StatusLabel, toneOf } from '../../components/Status';
import { formatTime } from '../../components/format';

export function KeysPage() {
  const invoke = useInvoke();
  const keys = useQuery({ queryKey: ['keys', 'list'], queryFn: () => invoke('keys.list', {}) });
  const [revoking, setRevoking] = useState<KeyView | null>(null);
  const [rotating, setRotating] = useState<KeyView | null>(null);
  const revoke = useMutation({
    mutationFn: (v: { k: KeyView; reason: string }) => invoke('keys.revoke', { tenant: v.k.tenant ?? '', fingerprint: v.k.fingerprint, reason: v.reason }),
    onSuccess: () => {
      setRevoking(null);
    },
  });
  const activeInTenant = (k: KeyView) => (keys.data ?? []).filter((x) => x.tenant === k.tenant && x.status === 'active').length;

  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Trusted keys">
        <CardTitle component="h2">Trusted keys</CardTitle>
        <CardBody>
          <p className="okc-muted pf-v6-u-mb-sm">Bundles verify only against keys pinned here (per tenant). A key inside a kit is never trusted because it is there.</p>
          {keys.isPending && <Loading what="trusted keys" />}
          {keys.error && <ErrorDetails error={keys.error} title="Keys unavailable" />}
          {keys.data && keys.data.length === 0 && <p>No key is trusted yet. Add the Export Center's public key below.</p>}
          {keys.data && keys.data.length > 0 && (
            <Table role="table" aria-label="Trusted keys" variant="compact">
              <Thead>
                <Tr>
                  <Th>Tenant</Th>
                  <Th>Label</Th>
                  <Th>Algorithm</Th>
                  <Th>Fingerprint</Th>
                  <Th>Status</Th>
                  <Th>Added</Th>
                  <Th screenReaderText="Actions" />
                </Tr>
              </Thead>
              <Tbody>
                {keys.data.map((k) => (
                  <Tr key={k.fingerprint + (k.tenant ?? '')}>
                    <Td dataLabel="Tenant">{k.tenant ?? '–'}</Td>
                    <Td dataLabel="Label">{k.label ?? ''}</Td>
                    <Td dataLabel="Algorithm">{k.algorithm}</Td>
                    <Td dataLabel="Fingerprint">
                      <code className="fp">{k.fingerprint}</code>
                    </Td>
                    <Td dataLabel="Status">
                      <StatusLabel tone={toneOf(k.status)} compact>
                        {k.status}
                      </StatusLabel>
                    </Td>
                    <Td dataLabel="Added">{formatTime(k.addedAt)}</Td>
                    <Td isActionCell>
                      {k.status !== 'revoked' && (
                        <Flex gap={{ default: 'gapSm' }} flexWrap={{ default: 'nowrap' }}>
                          <Button variant="secondary" size="sm" onClick={() => setRotating(k)} aria-label={`Rotate ${k.fingerprint}`}>
                            Rotate
                          </Button>
                          <Button variant="secondary" isDanger size="sm" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.fingerprint}`}>
                            Revoke
                          </Button>
                        </Flex>
                      )}
                    </Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          )}
        </CardBody>
      </Card>
      {rotating ? <AddKey key={`rotate-${rotating.fingerprint}`} replaces={rotating} onDone={() => setRotating(null)} /> : <AddKey key="add" />}
      {revoking && (
        <ConfirmAction
          isOpen
          title="Revoke a trusted key"
          description={
            <>
              <p>
                Bundles signed only by <code>{revoking.fingerprint}</code> will be refused for tenant <strong>{revoking.tenant}</strong> from now on.
              </p>
              {activeInTenant(revoking) <= 1 && (
                <Alert variant="danger" isInline isPlain title="This is the tenant's last active key: nothing from this tenant will verify until a new key is pinned." />
              )}
            </>
          }
          confirmLabel="Revoke key"
          risk="high"
          confirmWord={revoking.tenant ?? ''}
          busy={revoke.isPending}
          error={revoke.error}
          onConfirm={(reason) => revoke.mutate({ k: revoking, reason })}
          onClose={() => {
            setRevoking(null);
            revoke.reset();
          }}
        />
      )}
    </Flex>
  );
}

/** Adds a key, or (with `replaces`) rotates to a new key for the same tenant: check the key, confirm its fingerprint, give a reason. */
function AddKey({ replaces, onDone }: { replaces?: KeyView; onDone?: () => void }) {
  const invoke = useInvoke();
  const [pem, setPem] = useState('');
  const [tenant, setTenant] = useState(replaces?.tenant ?? '');
  const [label, setLabel] = useState('');
  const [reason, setReason] = useState('');
  const [confirmFp, setConfirmFp] = useState('');
  const [inspected, setInspected] = useState<KeyInspection | null>(null);
  const inspect = useMutation({ mutationFn: () => invoke('keys.inspect', { pem }), onSuccess: setInspected, onMutate: () => setInspected(null) });
  const add = useMutation({
    mutationFn: () => {
      const base = { pem, tenant, label: label.trim() || undefined, fingerprint: confirmFp.trim(), reason };
      return replaces ? invoke('keys.rotate', { ...base, replaces: replaces.fingerprint }) : invoke('keys.add', base);
    },
    onSuccess: () => {
      setPem('');
      setInspected(null);
      setConfirmFp('');
      setReason('');
      setLabel('');
    },
  });
  const matches = inspected !== null && confirmFp.trim() === inspected.fingerprint;
  const sameKey = replaces !== undefined && inspected?.fingerprint === replaces.fingerprint;
  const name = replaces ? 'Rotate a key' : 'Add a key';

  return (
    <Card component="section" aria-label={name}>
      <CardTitle component="h2">{name}</CardTitle>
      <CardBody>
        {replaces && (
          <p className="pf-v6-u-mb-md">
            The new key for tenant <strong>{replaces.tenant}</strong> replaces <code className="fp">{replaces.fingerprint}</code>. The old key stays trusted until you revoke it, so bundles already signed with it still verify.{' '}
            <Button variant="link" isInline onClick={onDone}>
              Cancel rotation
            </Button>
          </p>
        )}
        <Form onSubmit={(e) => e.preventDefault()}>
          <FormGroup label={replaces ? 'New PEM public key' : 'PEM public key'} fieldId="key-pem">
            <TextArea
              id="key-pem"
              rows={5}
              spellCheck={false}
              placeholder="-----BEGIN PUBLIC KEY-----"
              value={pem}
              onChange={(_e, v) => {
                setPem(v);
                setInspected(null);
              }}
              resizeOrientation="vertical"
            />
          </FormGroup>
          <div>
            <Button variant="secondary" isDisabled={!pem.trim() || inspect.isPending} onClick={() => inspect.mutate()}>
              Check key
            </Button>
          </div>
          {inspect.error && <ErrorDetails error={inspect.error} title="Not a usable key" />}
          {inspected && (
            <>
              <p>
                Algorithm <strong>{inspected.algorithm}</strong>, fingerprint <code className="fp">{inspected.fingerprint}</code>
              </p>
              {sameKey && <Alert variant="warning" isInline isPlain title="This is the key being replaced: paste the new key." />}
              <p className="okc-muted">Compare this fingerprint with the one in your change record (obtained out of band), then type or paste that one below. The key is trusted only if they are equal.</p>
              <FormGroup label="Fingerprint from the change record" fieldId="key-fp">
                <TextInput id="key-fp" spellCheck={false} value={confirmFp} onChange={(_e, v) => setConfirmFp(v)} validated={confirmFp.trim() === '' ? 'default' : matches ? 'success' : 'error'} />
                {confirmFp.trim() !== '' && !matches && (
                  <FormHelperText>
                    <HelperText>
                      <HelperTextItem variant="error">The fingerprints differ. Do not trust this key.</HelperTextItem>
                    </HelperText>
                  </FormHelperText>
                )}
              </FormGroup>
              <FormGroup label="Tenant" fieldId="key-tenant">
                <TextInput id="key-tenant" value={tenant} onChange={(_e, v) => setTenant(v)} isDisabled={replaces !== undefined} />
              </FormGroup>
              <FormGroup label="Label (optional)" fieldId="key-label">
                <TextInput id="key-label" value={label} onChange={(_e, v) => setLabel(v)} />
              </FormGroup>
              <FormGroup label="Reason / change record" fieldId="key-reason">
                <TextInput id="key-reason" value={reason} onChange={(_e, v) => setReason(v)} />
              </FormGroup>
              <div>
                <Button variant="primary" isDisabled={!matches || sameKey || !tenant.trim() || reason.trim().length < 3 || add.isPending} onClick={() => add.mutate()}>
                  {replaces ? 'Rotate to this key' : 'Trust this key'}
                </Button>
              </div>
            </>
          )}
        </Form>
        {add.error && <ErrorDetails error={add.error} title={replaces ? 'Key not rotated' : 'Key not added'} />}
        {add.data && (
          <p role="status" className="pf-v6-u-mt-md">
            {replaces ? 'Rotated: now trusting' : 'Trusted'} <code className="fp">{add.data.fingerprint}</code> for tenant {add.data.tenant}.
          </p>
        )}
      </CardBody>
    </Card>
  );
}
