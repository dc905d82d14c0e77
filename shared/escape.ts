/**
 * The one escaping function for strings that came from a bundle, a kit or
 * any other outside input (member names, manifest fields, signer names)
 * before they reach a terminal, a log line, evidence HTML or the UI. Pure.
 *
 * Escaped (so a name can neither move the cursor, recolour or overwrite the
 * operator's screen, nor reorder the text around it):
 * - C0 controls U+0000–U+001F and DEL U+007F as \xNN (\n, \r, \t, ESC too),
 * - C1 controls U+0080–U+009F (U+009B is a one-byte CSI on some terminals),
 * - bidirectional and line/paragraph controls (U+061C, U+200E/F, U+2028/9,
 *   U+202A–U+202E, U+2066–U+2069) and U+FEFF, as \u{XXXX},
 * - lone surrogates, as \u{XXXX},
 * - the backslash itself, as \\, so the escaped form is unambiguous.
 *
 * Modes: 'name' (default) for one outside string (a member name, a field);
 * 'text' for a whole message the console wrote that embeds such strings (the
 * backslash is kept, so names escaped earlier are not escaped twice; every
 * control, line breaks included, is escaped: OpsError and verdict messages);
 * 'layout' for complete output on its way to a terminal (\n, \t, \r and the
 * backslash are kept): the last guard at the CLI's stdout/stderr, not a
 * replacement for escaping at the source.
 */
export type EscapeMode = 'name' | 'text' | 'layout';

// eslint-disable-next-line no-control-regex
const NEEDS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff\\]/;

// eslint-disable-next-line no-control-regex
const NEEDS_IN_LAYOUT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/;

function isSpecial(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

export function escapeUntrusted(s: string, mode: EscapeMode = 'name'): string {
  const layout = mode === 'layout';
  // Layout keeps the backslash, \n, \t and \r as they are: output without anything else to escape (a
  // command's JSON report, say) is returned without a walk over every character.
  if (!(layout ? NEEDS_IN_LAYOUT : NEEDS).test(s)) return s;
  let out = '';
  // for..of walks code points: a valid surrogate pair arrives as one (> 0xFFFF), a lone one alone.
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x5c) out += mode === 'name' ? '\\\\' : '\\';
    else if (layout && (c === 0x0a || c === 0x09 || c === 0x0d)) out += ch;
    else if (c <= 0xff && isSpecial(c)) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c <= 0xffff && isSpecial(c)) out += '\\u{' + c.toString(16).padStart(4, '0') + '}';
    else out += ch;
  }
  return out;
}

/** escapeUntrusted (layout kept: notes and evidence JSON span lines), then HTML-escaped (evidence reports). */
export function escapeHtmlUntrusted(s: string, mode: EscapeMode = 'layout'): string {
  return escapeUntrusted(s, mode).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Serialised JSON made safe for a terminal or a log line: JSON.stringify
 * already escapes C0 controls and lone surrogates; this also writes DEL, C1
 * and the bidirectional controls as \uXXXX escapes (still valid JSON, same value).
 */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
