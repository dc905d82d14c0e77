/**
 * What the app:// protocol serves: files of the built renderer only, with a
 * strict CSP header. Plain Node (no Electron) so it is tested directly, and
 * shared by the browser shell (electron/browser) and the e2e bridge, which
 * serve the same files under their own routed origin.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'console';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX = `${APP_ORIGIN}/index.html`;

/** The origin the browser shell routes the renderer from (never resolved on the network; https so the page is a secure context). */
export const BROWSER_APP_ORIGIN = 'https://console.invalid';

export const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface RendererResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const baseHeaders = (type: string): Record<string, string> => ({
  'content-type': type,
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

/**
 * Maps an `<origin>/<path>` request (default app://console) to a file under
 * `rendererDir`. Any other origin, a path escaping the folder, or a missing
 * file is a 404.
 */
export async function serveRendererRequest(rendererDir: string, requestUrl: string, origin: string = APP_ORIGIN): Promise<RendererResponse> {
  const notFound: RendererResponse = { status: 404, headers: baseHeaders('text/plain; charset=utf-8'), body: 'Not found' };
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return notFound;
  }
  const want = new URL(origin);
  if (url.protocol !== want.protocol || url.host !== want.host || url.username !== '' || url.password !== '') return notFound;
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname);
  } catch {
    return notFound;
  }
  if (rel.includes('\0')) return notFound;
  rel = rel.replace(/^\/+/, '') || 'index.html';
  const root = resolve(rendererDir);
  const file = resolve(root, rel);
  if (!file.startsWith(root + sep)) return notFound;
  try {
    const body = await readFile(file);
    return { status: 200, headers: baseHeaders(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'), body };
  } catch {
    return notFound;
  }
}

/** Only our own protocol (and DevTools) may load anything: every network request is cancelled. */
export function isAllowedRequestUrl(url: string): boolean {
  return url.startsWith(`${APP_ORIGIN}/`) || url.startsWith('devtools://');
}

/** Whether a URL is a page of the given app origin (exact scheme, host and port; no credentials). */
export function isAppOriginUrl(url: string | null | undefined, origin: string): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.origin === origin && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}
