// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { diagnosticJson, diagnosticText } from '../../../electron/policy/diagnostics.js';
import * as cliFormat from '../../../electron/cli/format.js';

const located = { severity: 'error', message: 'boom', pos: { file: 'a.yml', line: 3, col: 7 } } as const;
const bare = { severity: 'warning', message: 'cannot read a.yml: EACCES' } as const;

describe('diagnostics as text and JSON', () => {
  it('text: file:line:col: severity: message, or severity: message without a position', () => {
    expect(diagnosticText(located)).toBe('a.yml:3:7: error: boom');
    expect(diagnosticText(bare)).toBe('warning: cannot read a.yml: EACCES');
    // Safe as a map callback (the index is not taken for anything).
    expect([located, bare].map(diagnosticText)).toEqual([
      'a.yml:3:7: error: boom',
      'warning: cannot read a.yml: EACCES',
    ]);
  });

  it('JSON: every field, null where there is no position', () => {
    expect(diagnosticJson(located)).toEqual({
      severity: 'error',
      message: 'boom',
      file: 'a.yml',
      line: 3,
      col: 7,
    });
    expect(diagnosticJson(bare)).toEqual({
      severity: 'warning',
      message: 'cannot read a.yml: EACCES',
      file: null,
      line: null,
      col: null,
    });
  });

  it('the CLI prints them with the same functions', () => {
    expect(cliFormat.diagnosticText).toBe(diagnosticText);
    expect(cliFormat.diagnosticJson).toBe(diagnosticJson);
  });
});
