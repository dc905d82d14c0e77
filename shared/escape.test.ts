/** Issue 9 item 3: the one escaping function, as terminals, logs, evidence HTML and the UI get its output. */
import { describe, expect, it } from 'vitest';
import { escapeHtmlUntrusted, escapeUntrusted } from './escape';
import { OpsError } from './errors';

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('escapeUntrusted', () => {
  it('a name that would rewrite the STOPPED line is shown inert, and unambiguous', () => {
    const evil = 'data/\u001b[2K\u001b[1A\rVERIFIED\u009b31m\u202eexe.json';
    const shown = escapeUntrusted(evil);
    expect(shown).toBe('data/\\x1b[2K\\x1b[1A\\x0dVERIFIED\\x9b31m\\u{202e}exe.json');
    expect(RAW_CONTROL.test(shown)).toBe(false);
    // A backslash in a name is doubled, so "\x1b" typed literally differs from ESC.
    expect(escapeUntrusted('a\\x1b')).toBe('a\\\\x1b');
    expect(escapeUntrusted('a\\x1b')).not.toBe(escapeUntrusted('a\u001b'));
    // Plain names (UTF-8 letters, emoji as a surrogate pair) are unchanged; a lone surrogate is not.
    expect(escapeUntrusted('données/é🙂.json')).toBe('données/é🙂.json');
    expect(escapeUntrusted('x\ud800y')).toBe('x\\u{d800}y');
  });

  it("'text' keeps names escaped earlier as they are; 'layout' keeps line breaks and tabs only", () => {
    const msg = `member "${escapeUntrusted('a\u001bb')}" refused\n`;
    expect(escapeUntrusted(msg, 'text')).toBe('member "a\\x1bb" refused\\x0a');
    expect(escapeUntrusted(`line1\n\tline2\u001b[31m`, 'layout')).toBe('line1\n\tline2\\x1b[31m');
  });

  it('every OpsError message (what the CLI, the logs and the UI show) is escaped', () => {
    const e = new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', 'bad name "x\u001b]0;pwned\u0007"\nsecond line');
    expect(RAW_CONTROL.test(e.message)).toBe(false);
    expect(e.message).not.toContain('\n');
    expect(JSON.stringify(e.toJSON())).toContain('x\\\\x1b]0;pwned\\\\x07');
  });

  it('evidence HTML gets the escaped name with markup neutralised', () => {
    const html = escapeHtmlUntrusted('<script>alert(1)</script>\u001b[2J & "q"');
    expect(html).not.toMatch(/<script>/);
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('\\x1b[2J');
    expect(html).toContain('&amp;');
    expect(RAW_CONTROL.test(html)).toBe(false);
  });
});

describe('layout mode', () => {
  it('escapes every character text mode escapes, but the line breaks and tabs it keeps (its shortcut for clean output skips nothing)', () => {
    for (let c = 0; c <= 0xffff; c++) {
      if (c === 0x0a || c === 0x09 || c === 0x0d) continue;
      const s = `a${String.fromCharCode(c)}b`;
      expect(escapeUntrusted(s, 'layout'), `U+${c.toString(16)}`).toBe(escapeUntrusted(s, 'text'));
    }
    const report = '{\n\t"path": "C:\\\\x",\r\n  "ok": true\n}';
    expect(escapeUntrusted(report, 'layout')).toBe(report);
    expect(escapeUntrusted(`${report}\u001b[2J`, 'layout')).toBe(`${report}\\x1b[2J`);
  });
});
