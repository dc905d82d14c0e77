/** Focus management shared by pages and dialogs: after navigation or a closed dialog, focus lands on the page heading. */
import { useEffect, useRef } from 'react';

export const PAGE_HEADING_ID = 'page-title';

/**
 * Moves focus to the page heading once the commit that closed a dialog has finished.
 * PatternFly's focus trap is released and restores focus to the element that opened the
 * dialog in that commit's passive-effect cleanups, which run synchronously together; a
 * task queued from one of them runs after all of them. A frame-count guess lost this race
 * on a busy machine (the trap, still active, pulled focus back, then restored it to the
 * row's button). Never steals focus from a dialog that is open by then.
 */
function focusHeadingAfterThisCommit(): void {
  setTimeout(() => {
    if (document.querySelector('[aria-modal="true"]')) return;
    document.getElementById(PAGE_HEADING_ID)?.focus();
  }, 0);
}

/** In a dialog component: focus goes to the page heading when the dialog closes, whether it is hidden (`isOpen` false) or unmounted. */
export function useFocusHeadingOnClose(isOpen: boolean): void {
  const wasOpen = useRef(false);
  useEffect(() => {
    if (wasOpen.current && !isOpen) focusHeadingAfterThisCommit();
    wasOpen.current = isOpen;
  }, [isOpen]);
  useEffect(
    () => () => {
      if (wasOpen.current) focusHeadingAfterThisCommit();
    },
    [],
  );
}
