import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ActionGroup, Button, Card, CardBody, CardTitle, Form, FormGroup, List, ListItem, Radio, TextInput } from '@patternfly/react-core';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorDetails } from '../../components/ErrorDetails';

/** The audit log as a file for an auditor (JSONL with its chain head, or CSV), signed with a private key file if given; the audit page's day filter bounds it. */
export function AuditExport({ from, to }: { from?: string; to?: string }) {
  const invoke = useInvoke();
  const [format, setFormat] = useState<'jsonl' | 'csv'>('jsonl');
  const [keyFile, setKeyFile] = useState('');
  const exp = useMutation({ mutationFn: () => invoke('audit.export', { format, from, to, signKeyFile: keyFile.trim() || undefined }) });
  return (
    <Card component="section" aria-label="Audit export">
      <CardTitle component="h2">Export the audit log</CardTitle>
      <CardBody>
        <p className="okc-muted pf-v6-u-mb-sm">Written into the workspace's evidence/audit folder with its chain head; with a signing key, each file gets a detached signature (.sig). The From/To days of the filters above bound the export.</p>
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            exp.mutate();
          }}
        >
          <FormGroup role="radiogroup" isInline fieldId="export-format" label="Format" isStack={false}>
            <Radio id="export-jsonl" name="export-format" label="JSONL (with the chain head)" isChecked={format === 'jsonl'} onChange={() => setFormat('jsonl')} />
            <Radio id="export-csv" name="export-format" label="CSV" isChecked={format === 'csv'} onChange={() => setFormat('csv')} />
          </FormGroup>
          <FormGroup label="Signing key file (PEM private key, optional)" fieldId="export-key">
            <TextInput id="export-key" value={keyFile} onChange={(_e, v) => setKeyFile(v)} placeholder="/media/usb/audit-signing.pem" spellCheck={false} />
          </FormGroup>
          <ActionGroup>
            <Button type="submit" variant="secondary" isLoading={exp.isPending} isDisabled={exp.isPending}>
              {keyFile.trim() ? 'Export and sign' : 'Export'}
            </Button>
          </ActionGroup>
        </Form>
        {exp.error && <ErrorDetails error={exp.error} title="Audit log not exported" />}
        {exp.data && (
          <div role="status" className="pf-v6-u-mt-md">
            <p>
              Exported {exp.data.rows} rows{exp.data.signatures.length ? ', signed' : ''}:
            </p>
            <List>
              {[...exp.data.files, ...exp.data.signatures].map((f) => (
                <ListItem key={f}>
                  <code>{f}</code>
                </ListItem>
              ))}
            </List>
          </div>
        )}
      </CardBody>
    </Card>
  );
}
