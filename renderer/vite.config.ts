// Vite build of the renderer: static files served by the app's app:// protocol
// (and by the Playwright harness). Run from the package root (npm run build:renderer).
// Relative base so the built files work under app:// and file:// alike.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    sourcemap: true,
    target: 'chrome120',
    // No inline scripts or data: URLs: the CSP allows script-src 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
