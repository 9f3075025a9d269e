// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Text from /proc (another user's command line) made safe to print.
import { describe, expect, it } from 'vitest';
import { commandLineText, escapeUntrusted } from '../../../native-bridge/escape.js';

/** Nothing a terminal acts on is left: C0, DEL, C1, ESC. */
function inert(s: string): boolean {
  return [...s].every((c) => {
    const cp = c.codePointAt(0) as number;
    return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp <= 0x9f);
  });
}

describe('escapeUntrusted', () => {
  it('keeps ordinary text, Unicode included', () => {
    expect(escapeUntrusted('node /usr/bin/net-tc-filter run --config /etc/x.yml')).toBe(
      'node /usr/bin/net-tc-filter run --config /etc/x.yml',
    );
    expect(escapeUntrusted('café ✓ 日本 😀')).toBe('café ✓ 日本 😀');
  });

  it('shows newlines, tabs, ESC, DEL and other C0 controls as escapes', () => {
    expect(escapeUntrusted('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(escapeUntrusted('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(escapeUntrusted('\x1b]0;title\x07')).toBe('\\x1b]0;title\\x07');
    expect(escapeUntrusted('x\x7fy\x00z\x08')).toBe('x\\x7fy\\x00z\\x08');
  });

  it('escapes the backslash, so that an escape in the output always stands for a byte', () => {
    expect(escapeUntrusted('a\\nb')).toBe('a\\\\nb');
    expect(escapeUntrusted('a\\nb')).not.toBe(escapeUntrusted('a\nb'));
  });

  it('shows C1 controls (U+009B is CSI to some terminals), line separators and bidi overrides', () => {
    expect(escapeUntrusted('\u009b31m')).toBe('\\u{009b}31m');
    expect(escapeUntrusted('a\u2028b\u2029')).toBe('a\\u{2028}b\\u{2029}');
    expect(escapeUntrusted('user\u202egpj.exe')).toBe('user\\u{202e}gpj.exe');
    expect(escapeUntrusted('\u2066x\u2069')).toBe('\\u{2066}x\\u{2069}');
  });

  it('shows bytes that are not valid UTF-8 as \\xNN (a lone continuation byte, a truncated sequence, an overlong ESC, a surrogate)', () => {
    expect(escapeUntrusted(Buffer.from([0x61, 0x80, 0x62]))).toBe('a\\x80b');
    expect(escapeUntrusted(Buffer.from([0xe2, 0x82]))).toBe('\\xe2\\x82');
    expect(escapeUntrusted(Buffer.from([0xc0, 0x9b]))).toBe('\\xc0\\x9b'); // overlong ESC
    expect(escapeUntrusted(Buffer.from([0xe0, 0x80, 0x9b]))).toBe('\\xe0\\x80\\x9b');
    expect(escapeUntrusted(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80'); // U+D800
    expect(escapeUntrusted(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe('\\xf4\\x90\\x80\\x80'); // > U+10FFFF
    expect(escapeUntrusted(Buffer.from([0xff]))).toBe('\\xff');
    // Valid multi-byte sequences on either side survive.
    expect(escapeUntrusted(Buffer.concat([Buffer.from('é'), Buffer.from([0xff]), Buffer.from('✓')]))).toBe(
      'é\\xff✓',
    );
  });

  it('leaves nothing a terminal acts on, whatever the bytes', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let n = 0; n < 500; n++) {
      const b = Buffer.alloc(rnd() % 64);
      for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
      const s = escapeUntrusted(b);
      expect(inert(s), b.toString('hex')).toBe(true);
      expect(s).not.toContain('\n');
    }
  });
});

describe('commandLineText', () => {
  it('joins the NUL-separated arguments with spaces and escapes each', () => {
    const raw = Buffer.from('sleep\u0000600\u0000x\ny\u0000\u001b[31mred\u0000', 'utf8');
    expect(commandLineText(raw)).toBe('sleep 600 x\\ny \\x1b[31mred');
  });

  it('drops empty arguments and a trailing NUL; an empty command line is empty', () => {
    expect(commandLineText(Buffer.from('a\u0000\u0000b\u0000', 'utf8'))).toBe('a b');
    expect(commandLineText(Buffer.alloc(0))).toBe('');
  });
});
