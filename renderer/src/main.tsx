/** Renderer entry: reads the injected API once and hands it to the provider. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { ConsoleApi } from '../../shared/contract';
import { ApiProvider } from './api/ApiProvider';
import { App } from './app/App';
import '@patternfly/react-core/dist/styles/base.css';
import '@patternfly/patternfly/patternfly-addons.css';
import './app/styles.css';
import { startThemeSync } from './app/theme';

declare global {
  interface Window {
    consoleApi?: ConsoleApi;
  }
}

startThemeSync();
const root = createRoot(document.getElementById('root')!);
const api = window.consoleApi;
if (!api) {
  root.render(
    <div className="error-panel" role="alert">
      <p>
        <strong>The console bridge is missing.</strong> <code className="code">ERR_INTERNAL</code>
      </p>
      <p>This page must be opened by the Export Center Offline Console application (npm start), not in a web browser.</p>
    </div>,
  );
  document.documentElement.dataset.ready = 'true';
} else {
  root.render(
    <StrictMode>
      <ApiProvider api={api}>
        <App />
      </ApiProvider>
    </StrictMode>,
  );
}
