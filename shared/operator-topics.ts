/**
 * The operator guide's topics (docs/operator/), as shown by the app's Help
 * page, the desktop Help menu and `mirror help <topic>`. Pure.
 */
export const OPERATOR_TOPICS = [
  { id: 'install', file: 'install.md', title: 'Install from removable media' },
  { id: 'first-start', file: 'first-start.md', title: 'First start: workspace, operator, pinning the tenant key' },
  { id: 'daily', file: 'daily-checklist.md', title: 'The daily checklist' },
  { id: 'restore', file: 'restore.md', title: 'A restore' },
  { id: 'errors', file: 'errors.md', title: 'Error codes: cause and action' },
] as const;

export type OperatorTopicId = (typeof OPERATOR_TOPICS)[number]['id'];

export function findOperatorTopic(id: string): (typeof OPERATOR_TOPICS)[number] | undefined {
  return OPERATOR_TOPICS.find((t) => t.id === id || t.file === id || t.file === `${id}.md`);
}
