import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { KeyInspection } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatTime } from '../../components/format';

export function KeysPage() {
  const invoke = useInvoke();
  const keys = useQuery({ queryKey: ['keys', 'list'], queryFn: () => invoke('keys.list', {}) });
  return (
    <div className="stack">
      <section className="card card-wide" aria-label="Trusted keys">
        <h2>Trusted keys</h2>
        <p className="muted">Bundles verify only against keys pinned here (per tenant). A key inside a kit is never trusted because it is there.</p>
        {keys.isPending && <Loading what="trusted keys" />}
        {keys.error && <ErrorPanel error={keys.error} title="Keys unavailable" />}
        {keys.data && keys.data.length === 0 && <p>No key is trusted yet. Add the Export Center's public key below.</p>}
        {keys.data && keys.data.length > 0 && (
          <table>
            <caption className="sr-only">Trusted keys</caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Label</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Fingerprint</th>
                <th scope="col">Status</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <KeyRow key={k.fingerprint + (k.tenant ?? '')} fingerprint={k.fingerprint} tenant={k.tenant} label={k.label} algorithm={k.algorithm} status={k.status} addedAt={k.addedAt} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <AddKey />
    </div>
  );
}

function KeyRow(k: { fingerprint: string; tenant: string | null; label: string | null; algorithm: string; status: string; addedAt: string | null }) {
  const invoke = useInvoke();
  const [revoking, setRevoking] = useState(false);
  const [reason, setReason] = useState('');
  const revoke = useMutation({ mutationFn: () => invoke('keys.revoke', { tenant: k.tenant ?? '', fingerprint: k.fingerprint, reason }) });
  return (
    <tr>
      <td>{k.tenant ?? '–'}</td>
      <td>{k.label ?? ''}</td>
      <td>{k.algorithm}</td>
      <td>
        <code className="fp">{k.fingerprint}</code>
      </td>
      <td>{k.status}</td>
      <td>{formatTime(k.addedAt)}</td>
      <td>
        {k.status === 'revoked' ? null : revoking ? (
          <div className="stack-tight">
            <input type="text" aria-label={`Reason for revoking ${k.fingerprint}`} placeholder="Change record / reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            <div className="row">
              <button type="button" className="danger" disabled={reason.trim().length < 3 || revoke.isPending} onClick={() => revoke.mutate()}>
                Confirm revoke
              </button>
              <button type="button" onClick={() => setRevoking(false)}>
                Keep
              </button>
            </div>
            {revoke.error && <ErrorPanel error={revoke.error} title="Not revoked" />}
          </div>
        ) : (
          <button type="button" onClick={() => setRevoking(true)}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}

function AddKey() {
  const invoke = useInvoke();
  const [pem, setPem] = useState('');
  const [tenant, setTenant] = useState('');
  const [label, setLabel] = useState('');
  const [reason, setReason] = useState('');
  const [confirmFp, setConfirmFp] = useState('');
  const [inspected, setInspected] = useState<KeyInspection | null>(null);
  const inspect = useMutation({ mutationFn: () => invoke('keys.inspect', { pem }), onSuccess: setInspected, onMutate: () => setInspected(null) });
  const add = useMutation({
    mutationFn: () => invoke('keys.add', { pem, tenant, label: label.trim() || undefined, fingerprint: confirmFp.trim(), reason }),
    onSuccess: () => {
      setPem('');
      setInspected(null);
      setConfirmFp('');
      setReason('');
      setLabel('');
    },
  });
  const matches = inspected !== null && confirmFp.trim() === inspected.fingerprint;

  return (
    <section className="card card-wide" aria-label="Add a key">
      <h2>Add a key</h2>
      <label htmlFor="key-pem">PEM public key</label>
      <textarea
        id="key-pem"
        rows={5}
        spellCheck={false}
        placeholder="-----BEGIN PUBLIC KEY-----"
        value={pem}
        onChange={(e) => {
          setPem(e.target.value);
          setInspected(null);
        }}
      />
      <button type="button" disabled={!pem.trim() || inspect.isPending} onClick={() => inspect.mutate()}>
        Check key
      </button>
      {inspect.error && <ErrorPanel error={inspect.error} title="Not a usable key" />}
      {inspected && (
        <div className="form-block">
          <p>
            Algorithm <strong>{inspected.algorithm}</strong>, fingerprint <code className="fp">{inspected.fingerprint}</code>
          </p>
          <p className="muted">Compare this fingerprint with the one in your change record (obtained out of band), then type or paste that one below. The key is trusted only if they are equal.</p>
          <label htmlFor="key-fp">Fingerprint from the change record</label>
          <input id="key-fp" type="text" spellCheck={false} value={confirmFp} onChange={(e) => setConfirmFp(e.target.value)} />
          {confirmFp.trim() !== '' && !matches && <p className="bad">The fingerprints differ. Do not trust this key.</p>}
          <label htmlFor="key-tenant">Tenant</label>
          <input id="key-tenant" type="text" value={tenant} onChange={(e) => setTenant(e.target.value)} />
          <label htmlFor="key-label">Label (optional)</label>
          <input id="key-label" type="text" value={label} onChange={(e) => setLabel(e.target.value)} />
          <label htmlFor="key-reason">Reason / change record</label>
          <input id="key-reason" type="text" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" className="primary" disabled={!matches || !tenant.trim() || reason.trim().length < 3 || add.isPending} onClick={() => add.mutate()}>
            Trust this key
          </button>
        </div>
      )}
      {add.error && <ErrorPanel error={add.error} title="Key not added" />}
      {add.data && (
        <p role="status">
          Trusted <code className="fp">{add.data.fingerprint}</code> for tenant {add.data.tenant}.
        </p>
      )}
    </section>
  );
}
