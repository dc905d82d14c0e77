/**
 * Help: the operator guide (docs/operator/), built into the renderer so it
 * reads offline in both shells, and the error codes with cause and action
 * from the same source as docs/operator/errors.md.
 */
import { useEffect } from 'react';
import { Card, CardBody, Content, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, Label, Tab, Tabs, TabTitleText } from '@patternfly/react-core';
import { ERROR_GUIDE } from '../../../../shared/error-guide';
import { procedureFor } from '../../../../shared/error-procedure';
import { OPERATOR_TOPICS, type OperatorTopicId } from '../../../../shared/operator-topics';
import { useLinks } from '../../app/linkStore';
import install from '../../../../docs/operator/install.md?raw';
import firstStart from '../../../../docs/operator/first-start.md?raw';
import daily from '../../../../docs/operator/daily-checklist.md?raw';
import restore from '../../../../docs/operator/restore.md?raw';

const PAGES: Record<Exclude<OperatorTopicId, 'errors'>, string> = { install, 'first-start': firstStart, daily, restore };

function ErrorCodes({ highlight }: { highlight: string | null }) {
  useEffect(() => {
    if (!highlight) return;
    const el = document.getElementById(`help-${highlight}`);
    el?.scrollIntoView({ block: 'start' });
    el?.focus();
  }, [highlight]);
  return (
    <DescriptionList aria-label="Error codes">
      {ERROR_GUIDE.map((e) => {
        const section = procedureFor(e.code);
        return (
          <DescriptionListGroup key={e.code} id={`help-${e.code}`} tabIndex={-1} className={highlight === e.code ? 'okc-highlight' : undefined}>
            <DescriptionListTerm>
              <code>{e.code}</code> <span className="okc-muted">exit {e.exitCode}</span> {section && <Label isCompact>procedure {section}</Label>}
            </DescriptionListTerm>
            <DescriptionListDescription>
              <p>
                <strong>Cause.</strong> {e.cause}
              </p>
              <p>
                <strong>Action.</strong> {e.action}
              </p>
              {e.followUp && (
                <p>
                  <strong>Follow-up.</strong> {e.followUp}
                </p>
              )}
            </DescriptionListDescription>
          </DescriptionListGroup>
        );
      })}
    </DescriptionList>
  );
}

export function HelpPage() {
  const { helpTopic: topic, helpCode, setHelpTopic } = useLinks();
  return (
    <Card>
      <CardBody>
        <Content component="p" className="okc-muted">
          The operator guide ships with the console. At a terminal: mirror help {topic}. Press ? for the keyboard shortcuts.
        </Content>
        <Tabs activeKey={topic} onSelect={(_e, k) => setHelpTopic(k as OperatorTopicId)} aria-label="Topics" mountOnEnter unmountOnExit>
          {OPERATOR_TOPICS.map((t) => (
            <Tab key={t.id} eventKey={t.id} title={<TabTitleText>{t.title}</TabTitleText>}>
              <section aria-label="Help topic" className="pf-v6-u-mt-md">
                {t.id === 'errors' ? <ErrorCodes highlight={helpCode} /> : <pre className="help-doc">{PAGES[t.id]}</pre>}
              </section>
            </Tab>
          ))}
        </Tabs>
      </CardBody>
    </Card>
  );
}
