import { Content, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, Modal, ModalBody, ModalHeader } from '@patternfly/react-core';
import { useFocusHeadingOnClose } from './focus';
import { PAGES } from './navStore';
import { GO_KEYS, OTHER_SHORTCUTS } from './shortcuts';

/** The keyboard shortcuts, opened with "?" or the masthead's keyboard button. */
export function ShortcutsModal({ isOpen, onClose }: { isOpen: boolean; onClose: () => void }) {
  useFocusHeadingOnClose(isOpen);
  const go = PAGES.filter((p) => GO_KEYS[p.id]).map((p) => ({ keys: `g then ${GO_KEYS[p.id]}`, what: `Go to ${p.label}` }));
  return (
    <Modal isOpen={isOpen} onClose={onClose} variant="small" aria-labelledby="shortcuts-title">
      <ModalHeader title="Keyboard shortcuts" labelId="shortcuts-title" />
      <ModalBody>
        <Content component="p">Shortcuts work anywhere except while typing in a field.</Content>
        <DescriptionList isHorizontal isCompact aria-label="Keyboard shortcuts">
          {[...OTHER_SHORTCUTS, ...go].map((s) => (
            <DescriptionListGroup key={s.keys}>
              <DescriptionListTerm>
                <kbd>{s.keys}</kbd>
              </DescriptionListTerm>
              <DescriptionListDescription>{s.what}</DescriptionListDescription>
            </DescriptionListGroup>
          ))}
        </DescriptionList>
      </ModalBody>
    </Modal>
  );
}
