// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure).
//
// Text that other users control (a process's command line from /proc, its name) shown in a
// terminal, a log line or the app's banner: every byte that could move the cursor, change colours,
// end the line, set the window title or reorder the text becomes a visible escape.

const NAMED: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x5c: '\\\\' };

/** Code points shown as \u{…}: C1 controls (U+0080–U+009F; some terminals take U+009B as CSI),
 * the line/paragraph separators, and the bidirectional controls that reorder what follows. */
function invisible(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    (cp >= 0x200e && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x061c ||
    cp === 0xfeff
  );
}

const hex2 = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;

/**
 * Makes `input` safe to print: C0 controls and DEL become `\n`, `\t`, `\r` or `\xNN` (ESC is
 * `\x1b`), a backslash becomes `\\` (so an escape in the output always means one), C1 and
 * bidirectional controls become `\u{NNNN}`, and bytes that are not valid UTF-8 (a Buffer) become
 * `\xNN`. Everything else, printable Unicode included, is kept as it is.
 */
export function escapeUntrusted(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let out = '';
  let i = 0;
  // Bounded: every iteration consumes at least one byte.
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      const named = NAMED[b];
      if (named) out += named;
      else if (b < 0x20 || b === 0x7f) out += hex2(b);
      else out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    const [cp, len] = decodeUtf8(bytes, i);
    if (cp < 0) {
      out += hex2(b);
      i += 1;
      continue;
    }
    out += invisible(cp) ? `\\u{${cp.toString(16).padStart(4, '0')}}` : String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/** One UTF-8 sequence at `i` (lead byte >= 0x80): [code point, length], or [-1, 1] when it is not
 * a valid, shortest-form encoding of a scalar value. */
function decodeUtf8(b: Uint8Array, i: number): [number, number] {
  const lead = b[i] as number;
  let len: number;
  let cp: number;
  let min: number;
  if (lead >= 0xc2 && lead <= 0xdf) [len, cp, min] = [2, lead & 0x1f, 0x80];
  else if (lead >= 0xe0 && lead <= 0xef) [len, cp, min] = [3, lead & 0x0f, 0x800];
  else if (lead >= 0xf0 && lead <= 0xf4) [len, cp, min] = [4, lead & 0x07, 0x10000];
  else return [-1, 1];
  if (i + len > b.length) return [-1, 1];
  for (let k = 1; k < len; k++) {
    const c = b[i + k] as number;
    if ((c & 0xc0) !== 0x80) return [-1, 1];
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
  return [cp, len];
}

/** A /proc/<pid>/cmdline as one line: arguments (NUL-separated) joined by spaces, each escaped. */
export function commandLineText(raw: Uint8Array): string {
  const args: string[] = [];
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i === raw.length || raw[i] === 0) {
      if (i > start) args.push(escapeUntrusted(raw.subarray(start, i)));
      start = i + 1;
    }
  }
  return args.join(' ');
}
