// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { canConfirm, ConfirmAction } from './ConfirmAction';

afterEach(cleanup);

describe('ConfirmAction', () => {
  it('asks for a reason of at least 3 characters, and for the typed word when the risk is high', () => {
    expect(canConfirm('ab', '', 'medium')).toBe(false);
    expect(canConfirm('CHG-1', '', 'medium')).toBe(true);
    expect(canConfirm('CHG-1', '', 'high', '2')).toBe(false);
    expect(canConfirm('CHG-1', ' 2 ', 'high', '2')).toBe(true);
  });

  it('enables the action only once the reason and the confirmation word are typed, and passes the trimmed reason', () => {
    const onConfirm = vi.fn();
    render(<ConfirmAction isOpen title="Roll back to generation 1" description="Staging switches." confirmLabel="Roll back to 1" risk="high" confirmWord="1" onConfirm={onConfirm} onClose={() => {}} />);
    const go = screen.getByRole('button', { name: 'Roll back to 1' }) as HTMLButtonElement;
    expect(go.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Reason/), { target: { value: '  CHG-9 bad delta  ' } });
    expect(go.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Type 1 to confirm/), { target: { value: '2' } });
    expect(go.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Type 1 to confirm/), { target: { value: '1' } });
    expect(go.disabled).toBe(false);
    fireEvent.click(go);
    expect(onConfirm).toHaveBeenCalledWith('CHG-9 bad delta');
  });

  it('shows a refusal with its code inside the dialog', () => {
    render(
      <ConfirmAction isOpen title="Prune the library" description="x" confirmLabel="Prune" risk="medium" error={{ code: 'ERR_WORKSPACE_BUSY', message: 'busy' }} onConfirm={() => {}} onClose={() => {}} />,
    );
    const alert = screen.getByRole('alert', { name: 'Prune the library: refused' });
    expect(alert.textContent).toContain('ERR_WORKSPACE_BUSY');
    // The runbook's action for a busy workspace is shown although the engine sent none.
    expect(alert.textContent).toMatch(/What to do/);
  });
});
