// SPDX-License-Identifier: Apache-2.0
// Environment: any (no Node or Electron import).
//
// The policy file codec: the original tool's format (`endpoints:`) plus the optional
// `interfaces:` and `logging:` extension keys. Input is untrusted (imported by the UI, read by
// the privileged daemon), so parsing is bounded before the yaml library builds anything:
//   1. size cap (and, with quickLists, the bytes the library parses and the list items);
//   2. a streaming lexer pass that bounds nesting (the yaml parser itself needs ~1 KB of
//      heap per nesting level, so a 1 MiB `[[[[…` would cost close to 1 GB);
//   3. an iterative pass over the CST: exact nesting limit, one document, no tags, anchors
//      or aliases (so alias bombs cannot even start);
//   4. composition, then validation of every value against the model with 1-based positions.

import { checkEndpointName, checkInterfaceName, parseAllowText, parseRangeText, quote } from './fields.js';
import {
  CST,
  Composer,
  Document,
  Lexer,
  LineCounter,
  Parser,
  Scalar,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
} from 'yaml';
import type { Pair, YAMLMap, YAMLSeq } from 'yaml';
import type {
  Diagnostic,
  Endpoint,
  InterfaceSettings,
  LogAllowed,
  Policy,
  Range,
  SourcePos,
  Verdict,
} from './types.js';
import { INTERFACE_MODES } from './types.js';
import type { Window } from './types.js';
import { WHEN_EMPTY, WINDOW_EXAMPLE, parseWindowText, windowsError } from './when.js';

/** Larger input is refused before it is parsed, by default: the cap of a policy file read by the
 * CLI (`--max-policy-bytes` changes it) or kept in the history. A guard against hostile input that
 * still fits a million (range, user) pairs (17 MiB of YAML for IPv4, 24 MiB for IPv6; loading such
 * a file, text to ResolvedPolicy, takes 1–2 s of CPU (IPv4 a little less than IPv6) and the result
 * holds 240 MiB of heap, bench/policy-load.ts; MAX_PARSED_BYTES and MAX_LIST_ITEMS bound the rest,
 * docs/datapath.md "Policy size"). */
export const MAX_POLICY_BYTES = 64 * 2 ** 20;
/** The cap of a policy the desktop app imports or sends through IPC (electron/ipc/contract.ts). */
export const MAX_IMPORT_BYTES = 2 ** 20;
/** How to raise the cap, said when it is reached (the CLI's flag). */
export const RAISE_POLICY_BYTES = 'net-tc-filter check/apply/run take --max-policy-bytes N to raise it';

/** What a policy over `max` bytes is told (at 1:1 of the file), with how to raise the limit. */
export function policyTooLarge(max: number, raise: string = RAISE_POLICY_BYTES): string {
  const size =
    max % 2 ** 20 === 0 ? ` (${max / 2 ** 20} MiB)` : max % 1024 === 0 ? ` (${max / 1024} KiB)` : '';
  return `the file is larger than ${max} bytes${size}, the most a policy may be here; ${raise}`;
}
/** What a policy over MAX_POLICY_BYTES is told. */
export const POLICY_TOO_LARGE = policyTooLarge(MAX_POLICY_BYTES);

export interface ParseOptions {
  /** The input cap in UTF-8 bytes (default MAX_POLICY_BYTES). */
  maxBytes?: number;
  /** How to raise it, for the message (default RAISE_POLICY_BYTES). */
  raise?: string;
  /** false: the yaml library reads every list (tests compare both ways; see quickLists). */
  quickLists?: boolean;
}
/** Deepest nesting accepted; the format itself needs 5 levels. */
export const MAX_NESTING = 16;
/** Bound of the cheap lexer pass; it may undercount, the exact CST pass enforces MAX_NESTING. */
const PRESCAN_NESTING = 4 * MAX_NESTING;
/** Diagnostics beyond this are summarised, so a hostile file cannot produce megabytes of messages. */
export const MAX_DIAGNOSTICS = 50;

const TOP_KEYS = ['endpoints', 'interfaces', 'logging'] as const;
const ENDPOINT_KEYS = ['iface', 'range', 'allow'] as const;
/** Keys an endpoint may have besides the required ones. */
const OPTIONAL_ENDPOINT_KEYS = ['when'] as const;
const INTERFACE_KEYS = ['default', 'unowned', 'essentials', 'mode'] as const;
const LOGGING_KEYS = ['allowed'] as const;
const LOG_ALLOWED_VALUES: readonly LogAllowed[] = ['off', 'sample', 'all'];
const VERDICTS: readonly Verdict[] = ['deny', 'allow'];

// ---------------------------------------------------------------------------------------------
// Diagnostics.

/** Where a diagnostic points: an offset in the text the yaml library read, or a position. */
type At = number | SourcePos;

class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  errors = 0;
  private truncated = false;

  constructor(
    private readonly file: string,
    private readonly lines: LineCounter | undefined,
    /** The quick lists (quickLists) not read yet, by the offset of their `[` in the text read. */
    readonly lists?: Map<number, QuickList>,
    /** The quick lists' removed items (quickLists): the text read has none of them. */
    private readonly cuts?: Cuts,
  ) {}

  /** The items of a quick list, when `value` is one (its emptied flow sequence). */
  listAt(value: unknown): QuickList | undefined {
    if (!this.lists || !isSeq(value) || value.items.length > 0 || !value.range) return undefined;
    const items = this.lists.get(value.range[0]);
    this.lists.delete(value.range[0]);
    return items;
  }

  /** The position in the file of `at` (an offset in the text read: in the file when no list was
   * cut out of it, else moved back past the items cut before it, on the same line). */
  pos(at: At): SourcePos {
    if (typeof at !== 'number') return at;
    const lc = this.lines?.linePos(at);
    let col = lc?.col ?? 1;
    if (this.cuts && lc && lc.line >= 1)
      col = this.cuts.original(at) - this.cuts.original(at - (col - 1)) + 1;
    return { file: this.file, line: Math.max(1, lc?.line ?? 1), col: Math.max(1, col) };
  }

  error(at: At, message: string): void {
    this.errors++;
    this.add({ severity: 'error', message, pos: { ...this.pos(at) } });
  }

  warning(at: At, message: string): void {
    this.add({ severity: 'warning', message, pos: { ...this.pos(at) } });
  }

  private add(d: Diagnostic): void {
    if (this.diagnostics.length < MAX_DIAGNOSTICS) {
      this.diagnostics.push(d);
    } else if (!this.truncated) {
      this.truncated = true;
      this.diagnostics.push({
        severity: 'error',
        message: `too many problems; only the first ${MAX_DIAGNOSTICS} are shown`,
        pos: d.pos,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

export interface ParseResult {
  /** Present only when there are no errors (warnings allowed). */
  policy?: Policy;
  diagnostics: Diagnostic[];
}

/** Parses and validates a policy file. Never throws. */
export function parsePolicy(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  try {
    return parseUnchecked(text, file, opts);
  } catch (e) {
    // Defensive: every known failure is a diagnostic already; this keeps the promise of no throw.
    const message = `could not parse this file: ${e instanceof Error ? e.message : String(e)}`;
    return { diagnostics: [{ severity: 'error', message, pos: { file, line: 1, col: 1 } }] };
  }
}

function parseUnchecked(text: string, file: string, opts: ParseOptions): ParseResult {
  const max = opts.maxBytes ?? MAX_POLICY_BYTES;
  // text.length counts UTF-16 units, each one to three UTF-8 bytes: cheap checks first.
  if (text.length > max || (text.length * 3 > max && new TextEncoder().encode(text).length > max)) {
    const r = new Reporter(file, undefined);
    r.error(0, policyTooLarge(max, opts.raise));
    return { diagnostics: r.diagnostics };
  }
  const quick = opts.quickLists === false ? undefined : quickLists(text);
  const refuse = (message: string): ParseResult => {
    const r = new Reporter(file, undefined);
    r.error(0, message);
    return { diagnostics: r.diagnostics };
  };
  if (quick === 'too many') return refuse(TOO_MANY_ITEMS);
  if (quick) {
    const lines = new LineCounter();
    const r = new Reporter(file, lines, quick.lists, quick.cuts);
    const res = parseText(quick.text, lines, r, quick.text.length);
    // Every cut list was read as the list it is: the result is the original text's.
    if (quick.lists.size === 0) return res;
  }
  const lines = new LineCounter();
  return parseText(text, lines, new Reporter(file, lines), text.length);
}

/**
 * At most this much of a file is parsed by the yaml library: all of it but the quick lists' items
 * (quickLists). The library takes about 1.3 s and 100 MB of heap per MiB, so 64 MiB of, say,
 * quoted list items would exhaust Node's heap (measured: out of memory after 2 minutes); 8 MiB is
 * eight times the whole cap of before.
 */
export const MAX_PARSED_BYTES = 8 * 2 ** 20;
/** Items of the quick lists together, counted before any is built (a million-pair policy has a
 * million; 64 MiB of two-byte items would be 32 million objects). */
export const MAX_LIST_ITEMS = 4 * 2 ** 20;
const TOO_MANY_ITEMS = `the lists of this file have more than ${MAX_LIST_ITEMS} items together, the most a policy may have`;

function tooMuchParsed(bytes: number): string {
  return (
    `${bytes} bytes of this file are not in one-line lists of plain items, more than the ${MAX_PARSED_BYTES} ` +
    `(8 MiB) that may be; write long lists on one line with unquoted items, e.g. ` +
    `range: [10.0.0.0/8, 2001:db8::/32] and allow: [alice, 1001] (quoted items, @groups and "*" ` +
    `belong in short lists)`
  );
}

/**
 * The yaml library spends about 20 µs on each item of a flow list (a million-pair policy: 24 s
 * of 29), so the items of the long lists are read here, not by it: `range:`, `allow:` and
 * `iface:` flow lists on one line whose items are all plain words the core schema reads as
 * written (a string, or a number or boolean, whose source scalarText takes), e.g.
 * `range: [10.0.0.0/8, 2001:db8::/32]`, `allow: [alice, 1001]`. Their items are cut out (`[]`
 * is left; Cuts moves the library's offsets back to the file's, on the same line), the library
 * parses an empty list there, and readList takes the items from the Reporter. A cut list the
 * document does not read as such a list (one inside a comment, a quoted or block scalar, a key,
 * an unknown key, a file with syntax errors) leaves the map non-empty, and the caller parses the
 * original text instead. Lists with any other item (quoted, `@group`, `*`, `null`, `a:`, empty,
 * tabs, non-ASCII) are left alone.
 */
function quickLists(
  text: string,
): { text: string; lists: Map<number, QuickList>; cuts: Cuts } | 'too many' | undefined {
  const lists = new Map<number, QuickList>();
  const parts: string[] = [];
  const ends: number[] = [];
  const removed: number[] = [];
  let last = 0;
  let cut = 0;
  let count = 0;
  for (const m of text.matchAll(QUICK_LIST)) {
    const content = m[1]!;
    const open = m.index + m[0].length - content.length - 2; // offset of `[`
    for (let i = content.indexOf(','); i >= 0; i = content.indexOf(',', i + 1)) count++;
    if (++count > MAX_LIST_ITEMS) return 'too many';
    const list = quickItems(text, open + 1, open + 1 + content.length);
    if (!list) continue;
    lists.set(open - cut, list);
    parts.push(text.slice(last, open + 1));
    last = open + 1 + content.length;
    cut += content.length;
    ends.push(open + 1 - (cut - content.length));
    removed.push(cut);
  }
  if (lists.size === 0) return undefined;
  parts.push(text.slice(last));
  return { text: parts.join(''), lists, cuts: new Cuts(ends, removed) };
}

/** The items of a quick list: their text and where each starts, and where its `[` is. */
interface QuickList {
  /** The offset of the list's `[` in the file. */
  open: number;
  words: string[];
  /** The offset of each word in the file. */
  at: number[];
}

/** The lists' items quickLists cut out of the text the library reads. */
class Cuts {
  constructor(
    /** Ascending: the offset, in the text read, of each cut list's `]`. */
    private readonly ends: readonly number[],
    /** The characters cut out up to and including each of those lists. */
    private readonly removed: readonly number[],
  ) {}

  /** The file's offset of `offset` in the text read. */
  original(offset: number): number {
    let low = 0;
    let high = this.ends.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.ends[mid]! <= offset) low = mid + 1;
      else high = mid;
    }
    return low === 0 ? offset : offset + this.removed[low - 1]!;
  }
}

/** What a character may be in a quick item: 2 first or later, 1 only later, 0 neither. */
const QUICK_CHARS = (() => {
  const t = new Uint8Array(128);
  for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_') t[c.charCodeAt(0)] = 2;
  for (const c of '.:/+-') t[c.charCodeAt(0)] = 1;
  return t;
})();
const SPACE = 0x20;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * The items of text[from, to), the inside of a one-line flow list, when every item is spaces, a
 * plain word, spaces (a letter, digit or `_`, then those and `.:/+-`), not ending in `:` and not a
 * null; else undefined. The same as splitting at `,` and matching each piece against
 * `^( *)([A-Za-z0-9_][A-Za-z0-9_.:/+-]*) *$`, without building the pieces.
 */
function quickItems(text: string, from: number, to: number): QuickList | undefined {
  const words: string[] = [];
  const at: number[] = [];
  let i = from;
  for (;;) {
    while (i < to && text.charCodeAt(i) === SPACE) i++;
    const start = i;
    let c = i < to ? text.charCodeAt(i) : -1;
    if (!(c >= 0 && c < 128 && QUICK_CHARS[c] === 2)) return undefined;
    for (i++; i < to; i++) {
      c = text.charCodeAt(i);
      if (!(c < 128 && QUICK_CHARS[c]! > 0)) break;
    }
    const end = i;
    while (i < to && text.charCodeAt(i) === SPACE) i++;
    if (i < to && text.charCodeAt(i) !== COMMA) return undefined;
    if (text.charCodeAt(end - 1) === COLON) return undefined;
    const word = text.slice(start, end);
    if (end - start === 4 && QUICK_NULL.test(word)) return undefined;
    words.push(word);
    at.push(start);
    if (i >= to) return { open: from - 1, words, at };
    i++; // the comma
  }
}

/** A line with only a `range`, `allow` or `iface` key and a flow list; group 1: the list's inside. */
const QUICK_LIST = /^[ \t]*(?:range|allow|iface)[ \t]*:[ \t]*\[([^\]\n]*)\]/gm;
/** Words the core schema reads as null (`~` cannot start a quick item). */
const QUICK_NULL = /^(?:null|Null|NULL)$/;

/** `parsed`: the bytes of the file the yaml library has to read (not cut out by quickLists). */
function parseText(text: string, lines: LineCounter, r: Reporter, parsed: number): ParseResult {
  const tooDeep = prescanNesting(text);
  if (tooDeep !== undefined) {
    // The text up to that point is nested at most ~2 × PRESCAN_NESTING deep, so parsing it is
    // cheap, and the exact pass then points at the first level beyond MAX_NESTING.
    const prefix = text.slice(0, tooDeep + 1);
    if (scanCst([...new Parser(lines.addNewLine).parse(prefix)], r, true)) r.error(tooDeep, nestingMessage());
    return { diagnostics: r.diagnostics };
  }
  if (parsed > MAX_PARSED_BYTES) {
    r.error(0, tooMuchParsed(parsed));
    return { diagnostics: r.diagnostics };
  }

  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  if (!scanCst(tokens, r)) return { diagnostics: r.diagnostics };

  const composer = new Composer({
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    schema: 'core',
  });
  // Aliases are rejected above and the document is read node by node, never through toJS(), so
  // yaml's alias expansion (the billion-laughs vector, bounded by its toJS maxAliasCount) never runs.
  const docs = [...composer.compose(tokens, true, text.length)];
  let syntaxErrors = 0;
  for (const doc of docs) {
    for (const e of doc.errors) {
      // `@group` unquoted is what admins write; `@` is only reserved for future YAML use.
      if (e.code === 'BAD_SCALAR_START' && text[e.pos[0]] === '@') continue;
      syntaxErrors++;
      r.error(e.pos[0], yamlMessage(e.code, e.message, text, e.pos[0]));
    }
    for (const w of doc.warnings) {
      if (w.code === 'TAG_RESOLVE_FAILED') continue; // reported by scanCst
      r.warning(w.pos[0], w.message);
    }
  }
  const first = docs[0];
  if (syntaxErrors > 0 || first === undefined) return { diagnostics: r.diagnostics };

  const policy = readPolicy(first, r);
  return r.errors === 0 && policy ? { policy, diagnostics: r.diagnostics } : { diagnostics: r.diagnostics };
}

function yamlMessage(code: string, message: string, text: string, offset: number): string {
  if (code === 'DUPLICATE_KEY') {
    // yaml points at the key; show it as written, up to its `:`.
    const line = text.slice(offset, offset + 80).split(/\r?\n/)[0] ?? '';
    const key = (/^(.*?):(\s|$)/.exec(line)?.[1] ?? line).trim();
    return `duplicate key ${/^['"]/.test(key) ? key : quote(key)}; a key may appear only once in a mapping`;
  }
  return message;
}

function nestingMessage(): string {
  return `nested more than ${MAX_NESTING} levels deep; a policy file needs at most 5 levels`;
}

/**
 * Estimates block and flow nesting from lexer tokens without building a tree, and returns the
 * offset where it exceeds PRESCAN_NESTING. Block collections are tracked by their start column;
 * a sequence at the same column as its parent's key is not counted, so this undercounts by at
 * most half, which the bound allows for.
 */
function prescanNesting(text: string): number | undefined {
  const columns: number[] = [];
  let flow = 0;
  let offset = 0;
  let lineStart = 0;
  let lineHasContent = false;
  let keyCol = -1; // column where the current implicit key started, for `key:` lines
  let atScalar = false;

  const popAbove = (col: number): void => {
    while (columns.length > 0 && columns[columns.length - 1]! > col) columns.pop();
  };
  const open = (col: number): boolean => {
    popAbove(col);
    const top = columns[columns.length - 1];
    if (top === undefined || top < col) columns.push(col);
    return columns.length + flow > PRESCAN_NESTING;
  };
  const content = (col: number): void => {
    if (flow === 0) {
      if (!lineHasContent) popAbove(col);
      if (keyCol < 0) keyCol = col;
    }
    lineHasContent = true;
  };

  for (const tok of new Lexer().lex(text)) {
    let type: string | null;
    if (atScalar) {
      atScalar = false;
      type = 'content';
    } else {
      type = CST.tokenType(tok);
    }
    // Control tokens take no room in the source.
    if (type === 'scalar') {
      atScalar = true;
      continue;
    }
    if (type === 'doc-mode' || type === 'flow-error-end') continue;
    const col = offset - lineStart;
    switch (type) {
      case 'newline':
        lineStart = offset + tok.length;
        lineHasContent = false;
        keyCol = -1;
        break;
      case 'space':
      case 'comment':
      case 'byte-order-mark':
        break;
      case 'doc-start':
      case 'doc-end':
        columns.length = 0;
        flow = 0;
        lineHasContent = true;
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        content(col);
        flow++;
        if (columns.length + flow > PRESCAN_NESTING) return offset;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        if (flow > 0) flow--;
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
        if (flow === 0) {
          if (!lineHasContent) popAbove(col);
          lineHasContent = true;
          if (open(col)) return offset;
          keyCol = -1;
        }
        break;
      case 'map-value-ind':
        if (flow === 0) {
          lineHasContent = true;
          if (open(keyCol >= 0 ? keyCol : col)) return offset;
          keyCol = -1;
        }
        break;
      default:
        content(col);
    }
    if (type !== 'newline') {
      // Multi-line scalars move the line start too.
      const nl = tok.lastIndexOf('\n');
      if (nl >= 0) lineStart = offset + nl + 1;
    }
    offset += tok.length;
  }
  return undefined;
}

/**
 * Walks the CST iteratively. Reports (and returns false for) nesting beyond MAX_NESTING; reports
 * extra documents, directives other than `%YAML 1.2`, tags, anchors and aliases. A bare `*` (an
 * alias with no name, never valid YAML) is read as the string "*", the `any user` entry.
 */
function scanCst(tokens: CST.Token[], r: Reporter, nestingOnly = false): boolean {
  const work: { tok: CST.Token; depth: number }[] = [];
  for (let i = tokens.length - 1; i >= 0; i--) work.push({ tok: tokens[i]!, depth: 0 });
  let documents = 0;
  const push = (toks: readonly (CST.Token | null | undefined)[] | undefined, depth: number): void => {
    if (!toks) return;
    for (let i = toks.length - 1; i >= 0; i--) {
      const t = toks[i];
      if (t) work.push({ tok: t, depth });
    }
  };
  while (work.length > 0) {
    const { tok, depth } = work.pop()!;
    if (nestingOnly && tok.type !== 'document' && !CST.isCollection(tok)) continue;
    switch (tok.type) {
      case 'directive':
        if (!/^%YAML[ \t]+1\.2[ \t]*(#.*)?$/.test(tok.source.trim())) {
          r.error(
            tok.offset,
            `unsupported directive ${quote(tok.source.trim())}; only "%YAML 1.2" is allowed`,
          );
        }
        break;
      case 'document':
        documents++;
        if (documents === 2 && !nestingOnly) {
          r.error(
            tok.offset,
            'only one YAML document is allowed in a policy file; remove the second "---" and what follows',
          );
        }
        push(tok.start, depth);
        push([tok.value], depth);
        push(tok.end, depth);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const inner = depth + 1;
        if (inner > MAX_NESTING) {
          r.error(tok.offset, nestingMessage());
          return false;
        }
        if (tok.type === 'flow-collection') push([tok.start], inner);
        for (let i = tok.items.length - 1; i >= 0; i--) {
          const item = tok.items[i]!;
          push([...item.start, item.key, ...(item.sep ?? []), item.value], inner);
        }
        if (tok.type === 'flow-collection') push(tok.end, inner);
        break;
      }
      case 'alias':
        if (tok.source === '*') {
          tok.type = 'scalar';
        } else {
          r.error(
            tok.offset,
            `aliases are not supported in this file (${tok.source}); write the value out in full`,
          );
        }
        push(tok.end, depth);
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
        push(tok.end, depth);
        break;
      case 'block-scalar':
        push(tok.props, depth);
        break;
      case 'anchor':
        r.error(
          tok.offset,
          `anchors are not supported in this file (${tok.source}); write the value out in full`,
        );
        break;
      case 'tag':
        r.error(tok.offset, `tags such as ${tok.source} are not supported in this file; write plain values`);
        break;
      default:
        break;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Validation of the composed document.

type Doc = Document.Parsed;

function start(node: unknown, fallback: number): number {
  return isNode(node) && node.range ? node.range[0] : fallback;
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return 'an alias';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'number' || typeof v === 'bigint') return `the number ${scalarText(node) ?? String(v)}`;
    if (typeof v === 'boolean') return `the boolean ${String(v)}`;
    if (typeof v === 'string') return `the text ${quote(v)}`;
  }
  return 'an unsupported value';
}

function isNull(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/**
 * The text of a scalar as the admin meant it: strings as parsed, and plain numbers or booleans as
 * written (an endpoint named 2024, an interface named 0).
 */
function scalarText(node: Scalar): string | undefined {
  const v = node.value;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    return node.type === Scalar.PLAIN && typeof node.source === 'string' ? node.source : String(v);
  }
  return undefined;
}

function listKeys(keys: readonly string[]): string {
  return keys.join(', ');
}

/** Iterates a mapping's pairs with their key text; reports keys that are not plain scalars. */
function* pairs(map: YAMLMap, r: Reporter): Generator<{ key: string; keyNode: Scalar; pair: Pair }> {
  for (const pair of map.items) {
    const keyNode = pair.key;
    const key = isScalar(keyNode) ? scalarText(keyNode) : undefined;
    if (!isScalar(keyNode) || key === undefined) {
      if (!isAlias(keyNode))
        r.error(start(keyNode, start(map, 0)), `expected a key name, found ${describe(keyNode)}`);
      continue;
    }
    yield { key, keyNode, pair };
  }
}

/** Sets an own property, also for names such as `__proto__` that are valid interface names. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function readPolicy(doc: Doc, r: Reporter): Policy | undefined {
  const root = doc.contents;
  if (isNull(root)) {
    r.error(start(root, 0), 'the file is empty; expected a mapping with an "endpoints:" list');
    return undefined;
  }
  if (!isMap(root)) {
    if (!isAlias(root)) {
      r.error(
        start(root, 0),
        `expected a mapping with an "endpoints:" list at the top level, found ${describe(root)}`,
      );
    }
    return undefined;
  }
  const policy: Policy = { endpoints: [], interfaces: {}, logging: {} };
  let sawEndpoints = false;
  for (const { key, keyNode, pair } of pairs(root, r)) {
    if (key === 'endpoints') {
      sawEndpoints = true;
      policy.endpoints = readEndpoints(pair.value, keyNode, r);
    } else if (key === 'interfaces') {
      policy.interfaces = readInterfaces(pair.value, r);
    } else if (key === 'logging') {
      policy.logging = readLogging(pair.value, r);
    } else {
      r.error(start(keyNode, 0), `unknown key ${quote(key)}; allowed keys: ${listKeys(TOP_KEYS)}`);
    }
  }
  if (!sawEndpoints) {
    r.error(start(root, 0), 'missing "endpoints:"; expected a list of endpoints at the top level');
  }
  return policy;
}

function readEndpoints(value: unknown, keyNode: Scalar, r: Reporter): Endpoint[] {
  const at = start(keyNode, 0);
  if (isNull(value)) {
    r.error(at, '"endpoints" has no value; expected a list of endpoints ("- name:" items)');
    return [];
  }
  if (!isSeq(value)) {
    if (!isAlias(value)) {
      const hint = isMap(value) ? ' (start each endpoint with "- ")' : '';
      r.error(start(value, at), `"endpoints" must be a list of endpoints, found ${describe(value)}${hint}`);
    }
    return [];
  }
  if (value.items.length === 0) {
    r.error(start(value, at), '"endpoints" is an empty list; define at least one endpoint');
    return [];
  }
  const endpoints: Endpoint[] = [];
  const seen = new Map<string, SourcePos>();
  for (const item of value.items) {
    const ep = readEndpoint(item, start(value, at), r);
    if (!ep) continue;
    const first = seen.get(ep.name);
    if (first) {
      r.error(
        start(ep.keyNode, at),
        `duplicate endpoint name ${quote(ep.name)}; the first is at line ${first.line}`,
      );
      continue;
    }
    seen.set(ep.name, ep.endpoint.pos!);
    endpoints.push(ep.endpoint);
  }
  return endpoints;
}

function readEndpoint(
  item: unknown,
  fallback: number,
  r: Reporter,
): { endpoint: Endpoint; name: string; keyNode: Scalar } | undefined {
  if (isAlias(item)) return undefined;
  const at = start(item, fallback);
  if (!isMap(item)) {
    r.error(
      at,
      `expected an endpoint ("name:" with iface, range and allow under it), found ${describe(item)}`,
    );
    return undefined;
  }
  if (item.items.length !== 1) {
    const names = item.items.map((p) => (isScalar(p.key) ? (scalarText(p.key) ?? '?') : '?'));
    r.error(
      at,
      `an endpoint is a single "name:" key with iface, range and allow indented under it; ` +
        `found ${item.items.length} keys (${names.join(', ')}) — check the indentation`,
    );
    return undefined;
  }
  const pair = item.items[0]!;
  const keyNode = pair.key;
  const name = isScalar(keyNode) ? scalarText(keyNode) : undefined;
  if (!isScalar(keyNode) || name === undefined) {
    if (!isAlias(keyNode))
      r.error(start(keyNode, at), `expected an endpoint name, found ${describe(keyNode)}`);
    return undefined;
  }
  const keyAt = start(keyNode, at);
  const nameError = checkEndpointName(name);
  if (nameError) r.error(keyAt, nameError);

  const body = pair.value;
  const label = `endpoint ${quote(name)}`;
  if (isNull(body)) {
    r.error(keyAt, `${label} has nothing under it; expected iface, range and allow`);
    return undefined;
  }
  if (!isMap(body)) {
    if (!isAlias(body)) {
      r.error(
        start(body, keyAt),
        `${label} must be a mapping with iface, range and allow, found ${describe(body)}`,
      );
    }
    return undefined;
  }
  const endpoint: Endpoint = { name, iface: [], range: [], allow: [], pos: r.pos(keyAt) };
  const present = new Set<string>();
  for (const { key, keyNode: k, pair: p } of pairs(body, r)) {
    const kAt = start(k, keyAt);
    if (key === 'iface') {
      present.add(key);
      endpoint.iface = wordList(
        p.value,
        key,
        kAt,
        'interface names such as [eth0]',
        'an interface name',
        r,
        (text, at) => {
          const err = checkInterfaceName(text);
          if (err) {
            r.error(at, err);
            return undefined;
          }
          return text;
        },
      );
    } else if (key === 'range') {
      present.add(key);
      endpoint.range = wordList(
        p.value,
        key,
        kAt,
        'IP ranges such as [169.254.169.254/32]',
        'an IP address or CIDR range',
        r,
        (text, at) => {
          const res = parseRangeText(text);
          const range = res.range;
          if (!range) {
            r.error(at, res.error ?? `invalid range ${quote(text)}`);
            return undefined;
          }
          if (res.warning) r.warning(at, res.warning);
          const out: Range = {
            family: range.family,
            addr: range.addr,
            prefix: range.prefix,
            text: range.text,
            pos: r.pos(at),
          };
          return out;
        },
      );
    } else if (key === 'allow') {
      present.add(key);
      endpoint.allow = wordList(
        p.value,
        key,
        kAt,
        'users such as [svc-deploy, 1001, "@admins", "*"]',
        'a user name, uid, @group or *',
        r,
        (text, at) => {
          const res = parseAllowText(text);
          if (!res.entry) {
            r.error(at, res.error ?? `invalid allow entry ${quote(text)}`);
            return undefined;
          }
          return { ...res.entry, pos: r.pos(at) };
        },
      );
    } else if (key === 'when') {
      endpoint.when = readWhen(p.value, kAt, r);
    } else {
      r.error(
        kAt,
        `unknown key ${quote(key)} in ${label}; allowed keys: ${listKeys([...ENDPOINT_KEYS, ...OPTIONAL_ENDPOINT_KEYS])}`,
      );
    }
  }
  const expected: Record<(typeof ENDPOINT_KEYS)[number], string> = {
    iface: 'the interfaces it applies to, e.g. [eth0]',
    range: 'the destination ranges it guards, e.g. [169.254.169.254/32]',
    allow: 'the users allowed to reach them, e.g. [svc-deploy]',
  };
  for (const k of ENDPOINT_KEYS) {
    if (!present.has(k)) r.error(keyAt, `${label} is missing "${k}": ${expected[k]}`);
  }
  return { endpoint, name, keyNode };
}

/** `when:` windows (when.ts): each located at the character it is wrong at; the list's limits at the key. */
function readWhen(value: unknown, keyAt: number, r: Reporter): Window[] {
  if (isNull(value) || (isSeq(value) && value.items.length === 0)) {
    r.error(isNull(value) ? keyAt : start(value, keyAt), WHEN_EMPTY);
    return [];
  }
  const errors = r.errors;
  const windows = readList(value, 'when', keyAt, `time windows such as ${WINDOW_EXAMPLE}`, r, (node, nAt) => {
    const text = itemText(node, nAt, `a time window such as ${WINDOW_EXAMPLE}`, r);
    if (text === undefined) return undefined;
    const res = parseWindowText(text);
    if (!res.window) {
      r.error(
        nAt + innerOffset(node, text, res.index ?? 0),
        res.error ?? `invalid time window ${quote(text)}`,
      );
      return undefined;
    }
    return { ...res.window, pos: r.pos(nAt) };
  });
  const err = r.errors === errors ? windowsError(windows) : undefined;
  if (err) r.error(keyAt, err);
  return windows;
}

/** Where character `index` of a scalar's text is, from the scalar's start, when the source
 * holds the text unchanged (plain, or quoted without escapes); else 0 (the scalar's start). */
function innerOffset(node: unknown, text: string, index: number): number {
  if (!isScalar(node) || !node.range) return 0;
  const len = node.range[1] - node.range[0];
  if (node.type === Scalar.PLAIN && len === text.length) return index;
  if ((node.type === Scalar.QUOTE_SINGLE || node.type === Scalar.QUOTE_DOUBLE) && len === text.length + 2)
    return index + 1;
  return 0;
}

/** The text of a list item that must be a scalar; numbers count as written (uids, odd names). */
function itemText(node: unknown, at: number, what: string, r: Reporter): string | undefined {
  if (isAlias(node)) return undefined;
  if (isScalar(node)) {
    const text = scalarText(node);
    if (text !== undefined) return text;
  }
  r.error(at, `expected ${what}, found ${describe(node)}`);
  return undefined;
}

/**
 * A list of words (readList) such as `range:`, each item's text read by `readWord` at its
 * position; a quick list's items (quickLists) are read from the Reporter, at their columns on the
 * list's line, with no node built.
 */
function wordList<T>(
  value: unknown,
  key: string,
  keyAt: number,
  what: string,
  itemWhat: string,
  r: Reporter,
  readWord: (text: string, at: At) => T | undefined,
): T[] {
  const quick = r.listAt(value);
  if (!quick) {
    return readList(value, key, keyAt, what, r, (node, at) => {
      const text = itemText(node, at, itemWhat, r);
      return text === undefined ? undefined : readWord(text, at);
    });
  }
  // A quick list is on one line: its items are where its `[` is plus their distance from it.
  const open = r.pos(start(value, keyAt));
  const out: T[] = [];
  for (let i = 0; i < quick.words.length; i++) {
    const col = open.col + (quick.at[i]! - quick.open);
    const v = readWord(quick.words[i]!, { file: open.file, line: open.line, col });
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** A list, or a single scalar read as a one-element list. Empty lists are errors. */
function readList<T>(
  value: unknown,
  key: string,
  keyAt: number,
  what: string,
  r: Reporter,
  readItem: (node: unknown, at: number) => T | undefined,
): T[] {
  if (isAlias(value)) return [];
  if (isNull(value)) {
    r.error(keyAt, `"${key}" has no value; expected a list of ${what}`);
    return [];
  }
  if (isMap(value)) {
    r.error(start(value, keyAt), `"${key}" must be a list of ${what}, found a mapping`);
    return [];
  }
  const items: unknown[] = isSeq(value) ? value.items : [value];
  if (items.length === 0) {
    r.error(start(value, keyAt), `"${key}" is an empty list; expected a list of ${what}`);
    return [];
  }
  const out: T[] = [];
  for (const item of items) {
    const v = readItem(item, start(item, start(value, keyAt)));
    if (v !== undefined) out.push(v);
  }
  return out;
}

function readInterfaces(value: unknown, r: Reporter): Record<string, Partial<InterfaceSettings>> {
  const out: Record<string, Partial<InterfaceSettings>> = {};
  if (isNull(value) || isAlias(value)) return out;
  if (!isMap(value)) {
    r.error(
      start(value, 0),
      `"interfaces" must be a mapping of interface names to settings, found ${describe(value)}`,
    );
    return out;
  }
  for (const { key: iface, keyNode, pair } of pairs(value, r)) {
    const at = start(keyNode, 0);
    const err = checkInterfaceName(iface);
    if (err) r.error(at, err);
    const settings: Partial<InterfaceSettings> = {};
    const body = pair.value;
    // `eth0:` alone configures the interface with the default settings.
    if (!isNull(body) && !isAlias(body)) {
      if (!isMap(body)) {
        r.error(
          start(body, at),
          `interface ${quote(iface)} must have a mapping of settings, found ${describe(body)}`,
        );
      } else {
        for (const { key, keyNode: k, pair: p } of pairs(body, r)) {
          const kAt = start(k, at);
          const v = p.value;
          const vAt = start(v, kAt);
          if (key === 'default' || key === 'unowned') {
            const text = isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
            if (text === 'deny' || text === 'allow') settings[key] = text;
            else if (!isAlias(v))
              r.error(vAt, `"${key}" must be ${VERDICTS.join(' or ')}, found ${describe(v)}`);
          } else if (key === 'essentials') {
            if (isScalar(v) && typeof v.value === 'boolean') settings.essentials = v.value;
            else if (!isAlias(v)) r.error(vAt, `"essentials" must be true or false, found ${describe(v)}`);
          } else if (key === 'mode') {
            const text = isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
            if (text === 'enforce' || text === 'audit') settings.mode = text;
            else if (!isAlias(v))
              r.error(vAt, `"mode" must be ${INTERFACE_MODES.join(' or ')}, found ${describe(v)}`);
          } else {
            r.error(
              kAt,
              `unknown key ${quote(key)} under interface ${quote(iface)}; allowed keys: ${listKeys(INTERFACE_KEYS)}`,
            );
          }
        }
      }
    }
    setOwn(out, iface, settings);
  }
  return out;
}

function readLogging(value: unknown, r: Reporter): { allowed?: LogAllowed } {
  const out: { allowed?: LogAllowed } = {};
  if (isNull(value) || isAlias(value)) return out;
  if (!isMap(value)) {
    r.error(
      start(value, 0),
      `"logging" must be a mapping such as {allowed: sample}, found ${describe(value)}`,
    );
    return out;
  }
  for (const { key, keyNode, pair } of pairs(value, r)) {
    const at = start(keyNode, 0);
    if (key !== 'allowed') {
      r.error(at, `unknown key ${quote(key)} under "logging"; allowed keys: ${listKeys(LOGGING_KEYS)}`);
      continue;
    }
    const v = pair.value;
    const text = isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
    const found = LOG_ALLOWED_VALUES.find((x) => x === text);
    if (found) out.allowed = found;
    else if (!isAlias(v))
      r.error(
        start(v, at),
        `"allowed" must be one of ${LOG_ALLOWED_VALUES.join(', ')}, found ${describe(v)}`,
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serialisation.

/**
 * Writes the seed format: `endpoints:` with one `- name:` mapping per endpoint and flow lists for
 * iface, range and allow; `interfaces:` and `logging:` only when they say something.
 */
export function serializePolicy(policy: Policy): string {
  const doc = new Document();
  const flowList = (values: (string | number)[]): YAMLSeq => {
    const seq = doc.createNode(values) as YAMLSeq;
    seq.flow = true;
    return seq;
  };
  const endpoints = policy.endpoints.map((ep, i) => {
    const body = doc.createNode({}) as YAMLMap;
    body.add(doc.createPair('iface', flowList(ep.iface)));
    body.add(doc.createPair('range', flowList(ep.range.map((rg) => rg.text))));
    body.add(doc.createPair('allow', flowList(ep.allow.map((a) => (a.kind === 'uid' ? a.uid : a.text)))));
    if (ep.when) body.add(doc.createPair('when', flowList(ep.when.map((w) => w.text))));
    const item = doc.createNode({}) as YAMLMap;
    item.add(doc.createPair(ep.name, body));
    // A blank line between endpoints keeps long files readable.
    if (i > 0) item.spaceBefore = true;
    return item;
  });
  const root = doc.createNode({}) as YAMLMap;
  root.add(doc.createPair('endpoints', doc.createNode(endpoints)));

  const ifaceNames = Object.keys(policy.interfaces);
  if (ifaceNames.length > 0) {
    const ifaces = doc.createNode({}) as YAMLMap;
    for (const name of ifaceNames) {
      const s = policy.interfaces[name]!;
      const settings = doc.createNode({}) as YAMLMap;
      for (const k of INTERFACE_KEYS) {
        const v = s[k];
        if (v !== undefined) settings.add(doc.createPair(k, v));
      }
      if (settings.items.length === 0) settings.flow = true; // `eth0: {}`
      ifaces.add(doc.createPair(name, settings));
    }
    const pair = doc.createPair('interfaces', ifaces);
    (pair.key as Scalar).spaceBefore = true;
    root.add(pair);
  }
  if (policy.logging.allowed !== undefined) {
    const logging = doc.createNode({}) as YAMLMap;
    logging.add(doc.createPair('allowed', policy.logging.allowed));
    const pair = doc.createPair('logging', logging);
    (pair.key as Scalar).spaceBefore = true;
    root.add(pair);
  }
  doc.contents = root;
  return doc.toString({
    indent: 2,
    indentSeq: true,
    lineWidth: 100,
    flowCollectionPadding: false,
    singleQuote: true,
  });
}
