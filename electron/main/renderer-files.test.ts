import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../services/testing/fixtures';
import { CSP, isAllowedRequestUrl, serveRendererRequest } from './renderer-files';

describe('app:// protocol responses', () => {
  let tmp: { dir: string; cleanup: () => void };
  let renderer: string;
  beforeEach(() => {
    tmp = tempDir('okc-proto-');
    renderer = join(tmp.dir, 'dist', 'renderer');
    mkdirSync(join(renderer, 'assets'), { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(tmp.dir, 'dist', 'secret.txt'), 'do not serve');
  });
  afterEach(() => tmp.cleanup());

  it('serves renderer files with the strict CSP and the right type', async () => {
    const index = await serveRendererRequest(renderer, 'app://console/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['content-security-policy']).toBe(CSP);
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).toContain("frame-ancestors 'none'");
    const js = await serveRendererRequest(renderer, 'app://console/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
    expect(js.body.toString()).toBe('console.log(1)');
  });

  it('never serves outside the renderer folder, other hosts or missing files', async () => {
    for (const url of ['app://console/../secret.txt', 'app://console/%2e%2e/secret.txt', 'app://console/..%2fsecret.txt', 'app://other/index.html', 'app://console/missing.js', 'https://console/index.html', 'app://console/a%00b']) {
      const r = await serveRendererRequest(renderer, url);
      expect(r.status, url).toBe(404);
      expect(r.body.toString()).not.toContain('do not serve');
    }
  });

  it('allows only our origin on the network layer', () => {
    expect(isAllowedRequestUrl('app://console/index.html')).toBe(true);
    expect(isAllowedRequestUrl('https://example.com/')).toBe(false);
    expect(isAllowedRequestUrl('http://127.0.0.1:8080/')).toBe(false);
    expect(isAllowedRequestUrl('file:///etc/passwd')).toBe(false);
    expect(isAllowedRequestUrl('app://consolex/')).toBe(false);
  });
});
