/**
 * Help: the operator guide (docs/operator/), built into the renderer so it
 * reads offline in both shells, and the error codes with cause and action
 * from the same source as docs/operator/errors.md.
 */
import { useState } from 'react';
import { ERROR_GUIDE } from '../../../../shared/error-guide';
import { OPERATOR_TOPICS, type OperatorTopicId } from '../../../../shared/operator-topics';
import install from '../../../../docs/operator/install.md?raw';
import firstStart from '../../../../docs/operator/first-start.md?raw';
import daily from '../../../../docs/operator/daily-checklist.md?raw';
import restore from '../../../../docs/operator/restore.md?raw';

const PAGES: Record<Exclude<OperatorTopicId, 'errors'>, string> = { install, 'first-start': firstStart, daily, restore };

function ErrorCodes() {
  return (
    <dl className="help-errors">
      {ERROR_GUIDE.map((e) => (
        <div key={e.code} id={e.code}>
          <dt>
            <code className="code">{e.code}</code> <span className="muted">exit {e.exitCode}</span>
          </dt>
          <dd>
            <p>
              <strong>Cause.</strong> {e.cause}
            </p>
            <p>
              <strong>Action.</strong> {e.action}
            </p>
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function HelpPage() {
  const [topic, setTopic] = useState<OperatorTopicId>('first-start');
  return (
    <div className="stack">
      <section className="card" aria-label="Operator guide">
        <p className="muted">The operator guide ships with the console. At a terminal: mirror help {topic}.</p>
        <div className="row" role="tablist" aria-label="Topics">
          {OPERATOR_TOPICS.map((t) => (
            <button key={t.id} type="button" role="tab" aria-selected={t.id === topic} className={t.id === topic ? 'primary' : undefined} onClick={() => setTopic(t.id)}>
              {t.title}
            </button>
          ))}
        </div>
      </section>
      <section className="card" aria-label="Help topic">
        {topic === 'errors' ? <ErrorCodes /> : <pre className="help-doc">{PAGES[topic]}</pre>}
      </section>
    </div>
  );
}
