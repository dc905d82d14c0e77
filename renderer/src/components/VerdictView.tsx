import { useState } from 'react';
import {
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  ExpandableSection,
  Flex,
  FlexItem,
  List,
  ListItem,
} from '@patternfly/react-core';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import type { Verdict } from '../../../shared/types';
import { ErrorDetails } from './ErrorDetails';
import { StatusLabel } from './Status';
import { formatBytes } from './format';

const baseName = (p: string) => p.split(/[\\/]/).pop() || p;

/** The verdict line on top: passed or refused, the code, the kind. */
function VerdictHead({ verdict }: { verdict: Verdict }) {
  return (
    <Flex alignItems={{ default: 'alignItemsCenter' }} gap={{ default: 'gapSm' }}>
      <StatusLabel tone={verdict.ok ? 'ok' : 'bad'}>{verdict.ok ? 'Verified' : 'Refused'}</StatusLabel>
      <FlexItem className="okc-muted">{verdict.kind}</FlexItem>
    </Flex>
  );
}

/** A verdict: the outcome on top, then why (code, cause, action), facts, and collapsible checks and kit entries. */
export function VerdictView({ verdict, nested = false }: { verdict: Verdict; nested?: boolean }) {
  const failed = verdict.checks.filter((c) => !c.ok).length;
  const [checksOpen, setChecksOpen] = useState(failed > 0 && verdict.items.length === 0);
  return (
    <section className={`okc-verdict ${verdict.ok ? 'okc-verdict-ok' : 'okc-verdict-bad'}`} aria-label={nested ? `Result for ${verdict.path}` : 'Verdict'}>
      <VerdictHead verdict={verdict} />
      {verdict.ok ? (
        <p className="pf-v6-u-mt-sm">{verdict.message}</p>
      ) : (
        <ErrorDetails plain error={{ code: verdict.code ?? 'ERR_INTERNAL', message: verdict.message, action: verdict.action ?? undefined, path: verdict.member }} title={nested ? `Why ${baseName(verdict.path)} was refused` : 'Why it was refused'} />
      )}
      <DescriptionList isCompact isHorizontal className="pf-v6-u-mt-sm">
        <DescriptionListGroup>
          <DescriptionListTerm>Input</DescriptionListTerm>
          <DescriptionListDescription>
            <code>{verdict.path}</code>
          </DescriptionListDescription>
        </DescriptionListGroup>
        {verdict.exportId && (
          <DescriptionListGroup>
            <DescriptionListTerm>Export</DescriptionListTerm>
            <DescriptionListDescription>
              <code>{verdict.exportId}</code>
            </DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {verdict.generation !== null && (
          <DescriptionListGroup>
            <DescriptionListTerm>Generation</DescriptionListTerm>
            <DescriptionListDescription>{verdict.generation}</DescriptionListDescription>
          </DescriptionListGroup>
        )}
        <DescriptionListGroup>
          <DescriptionListTerm>Read</DescriptionListTerm>
          <DescriptionListDescription>
            {formatBytes(verdict.stats.bytes)} in {verdict.stats.files} files, {verdict.stats.seconds.toFixed(1)} s
          </DescriptionListDescription>
        </DescriptionListGroup>
        {verdict.keys && verdict.keys.signedBy.length > 0 && (
          <DescriptionListGroup>
            <DescriptionListTerm>Signed by</DescriptionListTerm>
            <DescriptionListDescription>
              {verdict.keys.signedBy.map((k) => (
                <div key={k}>
                  <code>{k}</code>
                </div>
              ))}
            </DescriptionListDescription>
          </DescriptionListGroup>
        )}
      </DescriptionList>
      {verdict.warnings.length > 0 && <Warnings warnings={verdict.warnings} />}
      {verdict.checks.length > 0 && (
        <ExpandableSection
          toggleText={`Checks: ${verdict.checks.length - failed} passed${failed ? `, ${failed} failed` : ''}`}
          isExpanded={checksOpen}
          onToggle={(_e, v) => setChecksOpen(v)}
          className="pf-v6-u-mt-sm"
        >
          <List isPlain aria-label="Checks">
            {verdict.checks.map((c, i) => (
              <ListItem key={`${c.name}-${i}`} icon={c.ok ? <CheckCircleIcon className="okc-ok" /> : <ExclamationCircleIcon className="okc-bad" />}>
                <span className="pf-v6-screen-reader">{c.ok ? 'passed: ' : 'failed: '}</span>
                {c.name}
                {c.detail ? <span className="okc-muted"> — {c.detail}</span> : null}
              </ListItem>
            ))}
          </List>
        </ExpandableSection>
      )}
      {verdict.failures && verdict.failures.length > 1 && (
        <ExpandableSection toggleText={`All ${verdict.failures.length} failures`}>
          <List>
            {verdict.failures.map((f, i) => (
              <ListItem key={i}>
                <code>{f.code}</code> {f.message} {f.path && <code>{f.path}</code>}
              </ListItem>
            ))}
          </List>
        </ExpandableSection>
      )}
      {verdict.items.length > 0 && (
        <div className="pf-v6-u-mt-md">
          <h3>Kit entries, in application order</h3>
          {verdict.items.map((item, i) => (
            <BundleSection key={`${item.path}-${i}`} title={baseName(item.path)} ok={item.ok} code={item.code} subtitle={item.generation !== null ? `generation ${item.generation}` : item.kind}>
              <VerdictView verdict={item} nested />
            </BundleSection>
          ))}
        </div>
      )}
    </section>
  );
}

/** One bundle of a kit or an import, collapsed; a refused one starts open. */
export function BundleSection({ title, ok, code, subtitle, outcome, children }: { title: string; ok: boolean; code: string | null; subtitle?: string | null; outcome?: string; children: React.ReactNode }) {
  const [open, setOpen] = useState(!ok);
  return (
    <ExpandableSection
      className="okc-bundle"
      isExpanded={open}
      onToggle={(_e, v) => setOpen(v)}
      toggleContent={
        <Flex alignItems={{ default: 'alignItemsCenter' }} gap={{ default: 'gapSm' }} component="span">
          <StatusLabel tone={ok ? 'ok' : 'bad'} compact>
            {outcome ?? (ok ? 'Verified' : 'Refused')}
          </StatusLabel>
          <span className="okc-mono">{title}</span>
          {subtitle && <span className="okc-muted">{subtitle}</span>}
          {code && <code>{code}</code>}
        </Flex>
      }
    >
      {children}
    </ExpandableSection>
  );
}

export function Warnings({ warnings }: { warnings: string[] }) {
  return (
    <List isPlain aria-label="Warnings" className="pf-v6-u-mt-sm">
      {warnings.map((w, i) => (
        <ListItem key={i} icon={<ExclamationCircleIcon className="okc-warn" />}>
          <span className="pf-v6-screen-reader">Warning: </span>
          {w}
        </ListItem>
      ))}
    </List>
  );
}
