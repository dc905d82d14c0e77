/**
 * An error an operator can act on: the code, the plain message, the cause and
 * the runbook's action (from shared/error-guide.ts when the engine sent none),
 * the follow-up, and links to the Help entry and the matching procedure.
 */
import { Alert, Button, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, Flex, Label } from '@patternfly/react-core';
import { errorGuide } from '../../../shared/error-guide';
import { procedureFor } from '../../../shared/error-procedure';
import { isErrorCode, type OpsErrorShape } from '../../../shared/errors';
import { toShape } from '../api/ApiProvider';
import { useLinks } from '../app/linkStore';
import { useNav } from '../app/navStore';

export function asErrorShape(error: unknown): OpsErrorShape {
  if (typeof error === 'object' && error !== null && 'code' in error && 'message' in error && !(error instanceof Error)) return error as OpsErrorShape;
  return toShape(error);
}

export interface ErrorDetailsProps {
  error: unknown;
  /** What failed, in a few words ("Rollback refused"); also the alert's accessible name. */
  title?: string;
  /** warning for a refusal that protects (a bad bundle); danger otherwise. */
  variant?: 'danger' | 'warning';
  /** Inline (no box) inside a result that already says "Refused". */
  plain?: boolean;
}

export function ErrorDetails({ error, title, variant = 'danger', plain = false }: ErrorDetailsProps) {
  const e = asErrorShape(error);
  const guide = isErrorCode(e.code) ? errorGuide(e.code) : null;
  const action = e.action || guide?.action || null;
  const section = procedureFor(e.code);
  const go = useNav((s) => s.go);
  const { openHelp, openProcedure } = useLinks();
  const name = title ?? 'The console could not do this';

  const body = (
    <>
      <p className="okc-error-message">{e.message}</p>
      <DescriptionList isCompact isHorizontal className="pf-v6-u-mt-sm">
        {e.path && (
          <DescriptionListGroup>
            <DescriptionListTerm>Where</DescriptionListTerm>
            <DescriptionListDescription>
              <code>{e.path}</code>
            </DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {guide?.cause && (
          <DescriptionListGroup>
            <DescriptionListTerm>Cause</DescriptionListTerm>
            <DescriptionListDescription>{guide.cause}</DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {action && (
          <DescriptionListGroup>
            <DescriptionListTerm>What to do</DescriptionListTerm>
            <DescriptionListDescription className="okc-error-action">{action}</DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {guide?.followUp && (
          <DescriptionListGroup>
            <DescriptionListTerm>Follow-up</DescriptionListTerm>
            <DescriptionListDescription>{guide.followUp}</DescriptionListDescription>
          </DescriptionListGroup>
        )}
      </DescriptionList>
      <Flex className="pf-v6-u-mt-sm" gap={{ default: 'gapMd' }}>
        {guide && (
          <Button
            variant="link"
            isInline
            onClick={() => {
              openHelp('errors', e.code);
              go('help');
            }}
          >
            {e.code} in the operator guide
          </Button>
        )}
        {section && (
          <Button
            variant="link"
            isInline
            onClick={() => {
              openProcedure(section);
              go('checklists');
            }}
          >
            Open procedure {section}
          </Button>
        )}
      </Flex>
    </>
  );

  const heading = (
    <>
      {name}{' '}
      <Label isCompact color={variant === 'danger' ? 'red' : 'orange'} className="okc-code">
        {e.code}
      </Label>
    </>
  );
  if (plain) {
    return (
      <div role="alert" aria-label={name} className="okc-error-plain">
        {body}
      </div>
    );
  }
  return (
    <Alert variant={variant} isInline title={heading} role="alert" aria-label={name} className="pf-v6-u-my-sm">
      {body}
    </Alert>
  );
}
