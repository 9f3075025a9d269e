// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The README's main-job command, end to end.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { assertPrivileged, cliPath } from './harness.js';

describe('net-tc-filter demo', () => {
  it('shows allowed and dropped decisions, then removes the sandbox, the filter and its pins', async () => {
    assertPrivileged();
    const child = spawn(process.execPath, [cliPath(), 'demo', '--duration', '4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/ALLOW +ntf0 +metadata-reader +tcp +169\.254\.169\.254:80 +endpoint \(imds\)/);
    expect(out).toMatch(/DROP +ntf0 +intruder +tcp +169\.254\.169\.254:80 +not-listed/);
    expect(out).toMatch(/metadata-reader +GET http:\/\/169\.254\.169\.254\/latest\/meta-data\/ → 200/);
    expect(out).toMatch(/intruder +GET http:\/\/169\.254\.169\.254\/latest\/meta-data\/ → failed/);
    const pid = child.pid as number;
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`ntfd${pid}`));
    expect(existsSync(`/sys/fs/bpf/net-tc-filter-demo-${pid}`)).toBe(false);
  });

  it('cleans up when interrupted with Ctrl-C (SIGINT to the whole process group)', async () => {
    assertPrivileged();
    // Its own process group, as in a terminal: Ctrl-C reaches the demo and all its children.
    const child = spawn(process.execPath, [cliPath(), 'demo', '--duration', '60'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    onTestFinished(async () => {
      // Whatever failed above, never leave a running demo (and its namespaces) behind.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await closed;
      }
    });
    // Wait until the filter is enforcing, then interrupt.
    for (let i = 0; i < 200 && !/filter attached/.test(out); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/filter attached/);
    await new Promise((r) => setTimeout(r, 500)); // mid-round, while a probe runs
    process.kill(-(child.pid as number), 'SIGINT');
    const code = await closed;
    expect(code).toBe(0);
    const pid = child.pid as number;
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`ntfd${pid}`));
    expect(existsSync(`/sys/fs/bpf/net-tc-filter-demo-${pid}`)).toBe(false);
  });
});
