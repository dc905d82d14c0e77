import { useEffect } from 'react';
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
import { PAGES, useNav, type PageId } from './navStore';

const VIEWS: Record<PageId, () => React.JSX.Element> = {
  dashboard: DashboardPage,
  import: ImportPage,
  library: LibraryPage,
  staging: StagingPage,
  checklists: ChecklistsPage,
  audit: AuditPage,
  keys: KeysPage,
  settings: SettingsPage,
  help: HelpPage,
};

/** The shell: navigation on the left, the current page on the right. */
export function App() {
  const { page, go } = useNav();
  const info = useAppInfo();
  const settled = !info.isPending;

  // Readiness for tests and the Electron e2e: set once the first round trip settled.
  useEffect(() => {
    if (settled) document.documentElement.dataset.ready = 'true';
  }, [settled]);

  const View = VIEWS[page];
  const current = PAGES.find((p) => p.id === page)!;
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <span className="brand-name">Export Center</span>
          <span className="brand-sub">Offline Console</span>
        </div>
        <ul>
          {PAGES.map((p) => (
            <li key={p.id}>
              <button type="button" className={p.id === page ? 'nav-item active' : 'nav-item'} aria-current={p.id === page ? 'page' : undefined} onClick={() => go(p.id)}>
                {p.label}
              </button>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot muted">{info.data ? `v${info.data.version}` : ''}</div>
      </nav>
      <main className="content" aria-labelledby="page-title">
        <h1 id="page-title">{current.label}</h1>
        <View />
      </main>
    </div>
  );
}
