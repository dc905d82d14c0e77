import { useEffect, useRef, useState } from 'react';
import {
  Button,
  Label,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavItem,
  NavList,
  Page,
  PageSection,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
  Title,
  ToggleGroup,
  ToggleGroupItem,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import BarsIcon from '@patternfly/react-icons/dist/esm/icons/bars-icon';
import DesktopIcon from '@patternfly/react-icons/dist/esm/icons/desktop-icon';
import KeyboardIcon from '@patternfly/react-icons/dist/esm/icons/keyboard-icon';
import MoonIcon from '@patternfly/react-icons/dist/esm/icons/moon-icon';
import SunIcon from '@patternfly/react-icons/dist/esm/icons/sun-icon';
import { useAppInfo } from '../api/queries';
import { AuditPage } from '../features/audit/AuditPage';
import { ChecklistsPage } from '../features/checklists/ChecklistsPage';
import { DashboardPage } from '../features/dashboard/DashboardPage';
import { HelpPage } from '../features/help/HelpPage';
import { ImportPage } from '../features/import/ImportPage';
import { KeysPage } from '../features/keys/KeysPage';
import { LibraryPage } from '../features/library/LibraryPage';
import { SettingsPage } from '../features/settings/SettingsPage';
import { StagingPage } from '../features/staging/StagingPage';
import { TaskDrawer } from '../features/tasks/TaskDrawer';
import { RestorePage } from '../features/restore/RestoreWizard';
import { PAGE_HEADING_ID } from './focus';
import { PAGES, useNav, type PageId } from './navStore';
import { interpretKey } from './shortcuts';
import { ShortcutsModal } from './ShortcutsModal';
import { useTheme, type ThemeChoice } from './theme';

const VIEWS: Record<PageId, () => React.JSX.Element> = {
  dashboard: DashboardPage,
  import: ImportPage,
  library: LibraryPage,
  staging: StagingPage,
  restore: RestorePage,
  checklists: ChecklistsPage,
  audit: AuditPage,
  keys: KeysPage,
  settings: SettingsPage,
  help: HelpPage,
};

export const PRODUCT_TITLE = 'Export Center Offline Console';
const MAIN_ID = 'main-content';

function ThemeSwitch() {
  const { choice, choose } = useTheme();
  const items: { id: ThemeChoice; label: string; icon: React.ReactNode }[] = [
    { id: 'system', label: 'Follow the system theme', icon: <DesktopIcon /> },
    { id: 'light', label: 'Light theme', icon: <SunIcon /> },
    { id: 'dark', label: 'Dark theme', icon: <MoonIcon /> },
  ];
  return (
    <ToggleGroup aria-label="Theme">
      {items.map((it) => (
        <ToggleGroupItem key={it.id} icon={it.icon} aria-label={it.label} buttonId={`theme-${it.id}`} isSelected={choice === it.id} onChange={() => choose(it.id)} />
      ))}
    </ToggleGroup>
  );
}

/** The shell: masthead, sticky navigation on the left, the current page on the right. */
export function App() {
  const { page, go } = useNav();
  const info = useAppInfo();
  const settled = !info.isPending;
  const [shortcutsOpen, setShortcutsOpen] = useState(false);
  const afterG = useRef(false);
  const firstRender = useRef(true);

  // Readiness for tests and the Electron e2e: set once the first round trip settled.
  useEffect(() => {
    if (settled) document.documentElement.dataset.ready = 'true';
  }, [settled]);

  const current = PAGES.find((p) => p.id === page)!;

  // Window title per page; focus moves to the page heading on navigation (not on first load).
  useEffect(() => {
    document.title = `${current.label} · ${PRODUCT_TITLE}`;
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    document.getElementById(PAGE_HEADING_ID)?.focus();
  }, [current.label]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (shortcutsOpen) return;
      const action = interpretKey(e, afterG.current);
      afterG.current = action?.type === 'pending';
      if (!action || action.type === 'pending') return;
      e.preventDefault();
      if (action.type === 'help') setShortcutsOpen(true);
      else go(action.page);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [go, shortcutsOpen]);

  const View = VIEWS[page];
  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton variant="plain" aria-label="Show or hide the navigation">
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component="span" className="okc-brand">
            <span className="okc-brand-name">Export Center</span> <span className="okc-brand-sub">Offline Console</span>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignEnd' }} gap={{ default: 'gapMd' }}>
              {info.data && (
                <ToolbarItem>
                  <Label variant="outline" isCompact aria-label={`Version ${info.data.version}`}>
                    v{info.data.version}
                  </Label>
                </ToolbarItem>
              )}
              <ToolbarItem>
                <TaskDrawer />
              </ToolbarItem>
              <ToolbarItem>
                <ThemeSwitch />
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="plain" aria-label="Keyboard shortcuts (?)" icon={<KeyboardIcon />} onClick={() => setShortcutsOpen(true)} />
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );
  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Main">
          <NavList>
            {PAGES.map((p) => (
              <NavItem key={p.id} itemId={p.id} isActive={p.id === page} component="button" onClick={() => go(p.id)}>
                {p.label}
              </NavItem>
            ))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
  return (
    <>
      <Page
        masthead={masthead}
        sidebar={sidebar}
        isManagedSidebar
        skipToContent={<SkipToContent href={`#${MAIN_ID}`}>Skip to content</SkipToContent>}
        mainContainerId={MAIN_ID}
        mainAriaLabel={current.label}
      >
        <PageSection>
          <Title headingLevel="h1" id={PAGE_HEADING_ID} tabIndex={-1} className="okc-page-title">
            {current.label}
          </Title>
        </PageSection>
        <PageSection isFilled>
          <View />
        </PageSection>
      </Page>
      <ShortcutsModal isOpen={shortcutsOpen} onClose={() => setShortcutsOpen(false)} />
    </>
  );
}
