// SPDX-License-Identifier: Apache-2.0
// Environment: main process (pure: no Electron import, so unit tests run it in plain Node).
//
// What to do at start, decided from the uid and the command line before anything else runs:
// refuse, or run with these options and these warnings.
import { isAbsolute, normalize } from 'node:path';

export interface StartupFlags {
  /** Run although the process is uid 0 (needs Chromium's --no-sandbox too). */
  allowRoot: boolean;
  /** Chromium's switch: no OS sandbox for any child process. Only accepted with --allow-root. */
  noSandbox: boolean;
  /** bpffs directory of the pinned state (the engine's default when absent). */
  pinDir?: string;
  /** Where the applied policy is kept between runs (the backend's default when absent). */
  policyFile?: string;
  help: boolean;
}

export type StartupDecision =
  | { kind: 'run'; flags: StartupFlags; warnings: string[] }
  | { kind: 'help'; text: string }
  | { kind: 'refuse'; title: string; message: string; exitCode: number };

/** Usage errors (as the CLI's exit code 64). */
export const EXIT_USAGE = 64;
/** Refused to run as configured (root without --allow-root, sandbox off without reason). */
export const EXIT_REFUSED = 77;

export const USAGE = `net-tc-filter desktop app

Start it with the launcher, which runs it as you with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON:
  pkexec net-tc-filter-gui [options]      or      sudo net-tc-filter-gui [options]
Started directly, without those capabilities, it opens read-only.

Options:
  --pin-dir DIR       bpffs directory of the pinned state (default /sys/fs/bpf/net-tc-filter)
  --policy-file FILE  where the applied policy is kept (default $XDG_CONFIG_HOME/net-tc-filter/policy.yml,
                      which the launcher puts under /var/lib/net-tc-filter/users/<uid>/config)
  --allow-root        run as uid 0 (discouraged: Chromium's sandbox must then be off)
  --help              this text
`;

/** Flags that take a value, as `--flag value` or `--flag=value`. */
const VALUED = new Set(['--pin-dir', '--policy-file']);

/**
 * Parses our flags out of the process's arguments (after the executable and, unpackaged, the app
 * path). Chromium's and Electron's own switches (`--ozone-platform=wayland`, `--enable-logging`,
 * …) are passed through untouched: unknown switches are not errors. Positional arguments are.
 */
export function parseFlags(args: readonly string[]): { flags: StartupFlags; errors: string[] } {
  const flags: StartupFlags = { allowRoot: false, noSandbox: false, help: false };
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUED.has(name)) {
      let value: string | undefined;
      if (eq > 0 && name !== arg) value = arg.slice(eq + 1);
      else value = args[++i];
      if (value === undefined || value === '' || value.startsWith('--')) {
        errors.push(`${name} needs a value`);
        continue;
      }
      if (!isAbsolute(value)) {
        errors.push(`${name} must be an absolute path (got ${JSON.stringify(value)})`);
        continue;
      }
      const path = normalize(value);
      if (name === '--pin-dir') flags.pinDir = path;
      else flags.policyFile = path;
      continue;
    }
    switch (name) {
      case '--allow-root':
        flags.allowRoot = true;
        break;
      case '--no-sandbox':
        flags.noSandbox = true;
        break;
      case '--help':
      case '-h':
        flags.help = true;
        break;
      default:
        if (!arg.startsWith('-')) errors.push(`unexpected argument ${JSON.stringify(arg)}`);
      // Anything else is a Chromium or Electron switch: not ours to judge.
    }
  }
  return { flags, errors };
}

export const ROOT_WARNING =
  'Running as root with --allow-root: Chromium cannot sandbox its renderer as root, so the app runs ' +
  'with --no-sandbox and the page (and anything that compromises it) is not confined by the OS. ' +
  'Root also has every capability, not just the three the engine needs. Prefer the launcher: ' +
  '`sudo net-tc-filter-gui` runs the app as you with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON only.';

/**
 * The start-up decision.
 * - uid 0 is refused unless `--allow-root` is given; with it, Chromium's `--no-sandbox` must be on
 *   the command line too (Chromium refuses to start as root otherwise, and the switch has to be
 *   there before our code runs, which is why the launcher adds it). Then: a loud warning.
 * - `--no-sandbox` without `--allow-root` is refused: the only reason to lose the sandbox is root.
 */
export function decideStartup(input: { uid: number; args: readonly string[] }): StartupDecision {
  const { flags, errors } = parseFlags(input.args);
  if (flags.help) return { kind: 'help', text: USAGE };
  if (errors.length) {
    return {
      kind: 'refuse',
      title: 'Invalid command line',
      message: `${errors.join('\n')}\n\n${USAGE}`,
      exitCode: EXIT_USAGE,
    };
  }
  const warnings: string[] = [];
  if (input.uid === 0) {
    if (!flags.allowRoot) {
      return {
        kind: 'refuse',
        title: 'Not running as root',
        message:
          'net-tc-filter does not run as root: Chromium would need its sandbox turned off, and the app ' +
          'only needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON. Start it with the launcher, which runs it ' +
          'as you with those capabilities: `sudo net-tc-filter-gui` or `pkexec net-tc-filter-gui`. ' +
          'To run as root anyway (discouraged), pass --allow-root.',
        exitCode: EXIT_REFUSED,
      };
    }
    if (!flags.noSandbox) {
      return {
        kind: 'refuse',
        title: 'Root needs --no-sandbox',
        message:
          'As root, Chromium can only start with --no-sandbox on the command line (it cannot be added ' +
          'later). `sudo net-tc-filter-gui --allow-root` adds it when the invoking user is root.',
        exitCode: EXIT_REFUSED,
      };
    }
    warnings.push(ROOT_WARNING);
  } else if (flags.noSandbox) {
    return {
      kind: 'refuse',
      title: 'Sandbox required',
      message:
        '--no-sandbox turns off the OS sandbox of every renderer; net-tc-filter refuses it (it is only ' +
        'accepted together with --allow-root, when running as root makes it unavoidable).',
      exitCode: EXIT_REFUSED,
    };
  } else if (flags.allowRoot) {
    warnings.push('--allow-root has no effect: the app is not running as root.');
  }
  return { kind: 'run', flags, warnings };
}

/**
 * The arguments after the executable: Electron's argv is [electron, appPath, ...] when started
 * as `electron <app>`, [executable, ...] when packaged.
 */
export function userArgs(argv: readonly string[], packaged: boolean): string[] {
  return argv.slice(packaged ? 1 : 2);
}
