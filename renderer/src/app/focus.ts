/** Focus management shared by pages and dialogs: after navigation or a closed dialog, focus lands on the page heading. */
export const PAGE_HEADING_ID = 'page-title';

export function focusPageHeading(): void {
  // After React committed and PatternFly's focus trap released (it restores focus on deactivation).
  requestAnimationFrame(() => requestAnimationFrame(() => document.getElementById(PAGE_HEADING_ID)?.focus()));
}
