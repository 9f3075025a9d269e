// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; bundled into the renderer too).
//
// How a Diagnostic is written for people and for programs: the one place that says it (the CLI,
// the import panel of the desktop app and the YAML codec's tests use it).
import type { Diagnostic } from './types.js';

/** `file:line:col: severity: message`, or `severity: message` without a position (a message
 * without one names its file itself, e.g. "cannot read FILE: …"). */
export function diagnosticText(d: Diagnostic): string {
  const where = d.pos ? `${d.pos.file}:${d.pos.line}:${d.pos.col}: ` : '';
  return `${where}${d.severity}: ${d.message}`;
}

/** A diagnostic in JSON output: every field present, null where it has no position. */
export interface DiagnosticJson {
  severity: Diagnostic['severity'];
  message: string;
  file: string | null;
  line: number | null;
  col: number | null;
}

export function diagnosticJson(d: Diagnostic): DiagnosticJson {
  return {
    severity: d.severity,
    message: d.message,
    file: d.pos?.file ?? null,
    line: d.pos?.line ?? null,
    col: d.pos?.col ?? null,
  };
}
