// SPDX-License-Identifier: Apache-2.0
// Environment: Node (benchmark), pure.
//
// The results block of docs/benchmarks.md: `<!-- results:start -->` … `<!-- results:end -->`,
// each section inside `<!-- results:SECTION:start -->` … `<!-- results:SECTION:end -->`. A full
// run rewrites the whole block; `--only SECTION` rewrites that section's markers (its output then
// carries its own run line and load average), or adds them at the end of the block.

const mark = (s: string, edge: 'start' | 'end') => `<!-- results${s ? `:${s}` : ''}:${edge} -->`;

/** Where a marker stands on a line of its own (prose may quote one), or -1. */
function markAt(text: string, s: string, edge: 'start' | 'end'): number {
  const i = text.indexOf(`\n${mark(s, edge)}\n`);
  return i < 0 ? -1 : i + 1;
}

function replaceBetween(text: string, s: string, body: string[]): string | undefined {
  const i = markAt(text, s, 'start');
  const j = markAt(text, s, 'end');
  if (i < 0 || j < i) return undefined;
  return `${text.slice(0, i + mark(s, 'start').length)}\n\n${body.join('\n')}\n${text.slice(j)}`;
}

/**
 * The document with new results, or undefined when it has no place for them.
 * @param out every line the run printed
 * @param spans where each section's lines are in `out` ([from, to)), in order
 * @param only the one section that ran (`--only`), if any
 */
export function updateResults(
  text: string,
  out: string[],
  spans: ReadonlyMap<string, readonly [number, number]>,
  only?: string,
): string | undefined {
  if (only) {
    const replaced = replaceBetween(text, only, out);
    if (replaced !== undefined) return replaced;
    const j = markAt(text, '', 'end');
    if (j < 0) return undefined;
    const block = [mark(only, 'start'), '', ...out, mark(only, 'end'), '', ''].join('\n');
    return `${text.slice(0, j)}${block}${text.slice(j)}`;
  }
  const body: string[] = [];
  let k = 0;
  for (const [s, [a, b]] of spans) {
    body.push(...out.slice(k, a), mark(s, 'start'), '', ...out.slice(a, b), mark(s, 'end'), '');
    k = b;
  }
  return replaceBetween(text, '', [...body, ...out.slice(k)]);
}
