/**
 * One confirmation for a destructive action, scaled to its risk: every one asks
 * for a reason (recorded in the audit log); a high-risk one also asks the
 * operator to type a confirmation word. Closing it returns focus to the page heading.
 */
import { useState } from 'react';
import { Button, Form, FormGroup, FormHelperText, HelperText, HelperTextItem, Modal, ModalBody, ModalFooter, ModalHeader, TextInput } from '@patternfly/react-core';
import { useFocusHeadingOnClose } from '../app/focus';
import { ErrorDetails } from './ErrorDetails';

export type Risk = 'medium' | 'high';
export const MIN_REASON = 3;

export interface ConfirmActionProps {
  isOpen: boolean;
  title: string;
  /** What will happen, in plain words. */
  description: React.ReactNode;
  /** The confirm button's label, a verb ("Roll back to generation 2"). */
  confirmLabel: string;
  risk: Risk;
  /** high risk: the word to type (e.g. the generation number or the tenant). */
  confirmWord?: string;
  reasonLabel?: string;
  reasonPlaceholder?: string;
  busy?: boolean;
  error?: unknown;
  onConfirm(reason: string): void;
  onClose(): void;
}

/** Whether the typed inputs allow the action (pure, unit tested). */
export function canConfirm(reason: string, typed: string, risk: Risk, confirmWord?: string): boolean {
  if (reason.trim().length < MIN_REASON) return false;
  if (risk === 'high' && confirmWord !== undefined) return typed.trim() === confirmWord;
  return true;
}

export function ConfirmAction(p: ConfirmActionProps) {
  const [reason, setReason] = useState('');
  const [typed, setTyped] = useState('');
  const ok = canConfirm(reason, typed, p.risk, p.confirmWord);
  useFocusHeadingOnClose(p.isOpen);
  const close = () => {
    setReason('');
    setTyped('');
    p.onClose();
  };
  return (
    <Modal isOpen={p.isOpen} onClose={close} variant="small" aria-labelledby="confirm-title" aria-describedby="confirm-desc">
      <ModalHeader title={p.title} labelId="confirm-title" />
      <ModalBody>
        <div id="confirm-desc">{p.description}</div>
        <Form
          className="pf-v6-u-mt-md"
          onSubmit={(e) => {
            e.preventDefault();
            if (ok && !p.busy) p.onConfirm(reason.trim());
          }}
        >
          <FormGroup label={p.reasonLabel ?? 'Reason (recorded in the audit log)'} isRequired fieldId="confirm-reason">
            <TextInput id="confirm-reason" value={reason} onChange={(_e, v) => setReason(v)} placeholder={p.reasonPlaceholder ?? 'e.g. CHG-1234 and what happened'} isRequired autoFocus />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>At least {MIN_REASON} characters: a change record or a short explanation.</HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          {p.risk === 'high' && p.confirmWord !== undefined && (
            <FormGroup label={`Type ${p.confirmWord} to confirm`} isRequired fieldId="confirm-word">
              <TextInput id="confirm-word" value={typed} onChange={(_e, v) => setTyped(v)} isRequired spellCheck={false} />
            </FormGroup>
          )}
          {p.error !== undefined && p.error !== null && <ErrorDetails error={p.error} title={`${p.title}: refused`} />}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant={p.risk === 'high' ? 'danger' : 'primary'} isDisabled={!ok || p.busy} isLoading={p.busy} onClick={() => p.onConfirm(reason.trim())}>
          {p.confirmLabel}
        </Button>
        <Button variant="link" onClick={close}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
