// Which lockls server the extension starts: `lockls.server.path` when set; else the server
// bundled in a platform .vsix (bundled/, see scripts/build-release) run by the first Python
// >= 3.10 found; else `lockls` on PATH. No `vscode` import (unit-tested by test/server.test.js).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import {
  Environment,
  INSTALL_COMMAND,
  LocklsSettings,
  MINIMUM_PYTHON,
  REPOSITORY_URL,
  StartProblem,
  findExecutable,
  serverCommand,
  startFailureMessage,
} from './config';

export { MINIMUM_PYTHON };

/** A Python to try: a command (found on PATH or a path) and the arguments that select it (`py -3`). */
export interface PythonCandidate {
  command: string;
  args: string[];
  /** Where it came from, for the log and the error message. */
  source: 'python-extension' | 'PATH';
}

/** What `lsp_server.py --probe` says of one Python. */
export interface ProbeResult {
  ok: boolean;
  /** The version, e.g. "3.11.2", when the Python ran. */
  python?: string;
  reason?: string;
}

export type Probe = (candidate: PythonCandidate, launcher: string) => Promise<ProbeResult>;

export type ServerChoice =
  | { kind: 'configured' | 'bundled' | 'path'; command: string; args: string[]; detail: string }
  | { kind: 'none'; message: string; bundled: boolean; problem: StartProblem };

/** The bundled launcher, when this is a platform .vsix (the neutral one has no bundled/). */
export function findBundle(extensionPath: string): string | undefined {
  const launcher = path.join(extensionPath, 'bundled', 'tool', 'lsp_server.py');
  return fs.existsSync(launcher) && fs.existsSync(path.join(extensionPath, 'bundled', 'libs')) ? launcher : undefined;
}

/** Whether `lockls.server.path` was set by the user (its default, `lockls`, leaves the choice to us). */
export function isServerPathSet(inspected: {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
} | undefined, trusted: boolean): boolean {
  const set = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  if (!inspected) return false;
  // a machine setting: only the user's own settings count in an untrusted workspace
  return set(inspected.globalValue) || (trusted && (set(inspected.workspaceValue) || set(inspected.workspaceFolderValue)));
}

/** The Pythons to try, in order: the Python extension's interpreter, then PATH
 * (`python3`, `python`; on Windows `python`, `py -3`, `python3`), each once. */
export function pythonCandidates(e: Environment, selected?: string): PythonCandidate[] {
  const platform = e.platform ?? process.platform;
  const out: PythonCandidate[] = [];
  const seen = new Set<string>();
  const add = (command: string, args: string[], source: PythonCandidate['source']) => {
    const key = [command, ...args].join('\0');
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ command, args, source });
    }
  };
  if (selected) add(selected, [], 'python-extension');
  const names: Array<[string, string[]]> = platform === 'win32'
    ? [['python', []], ['py', ['-3']], ['python3', []]]
    : [['python3', []], ['python', []]];
  for (const [name, args] of names) {
    const exe = findExecutable(name, e);
    if (exe) add(exe, args, 'PATH');
  }
  return out;
}

/** The probe's answer from its output (the last line is JSON), or why there is none. */
export function parseProbe(stdout: string, stderr: string, error?: { code?: unknown; message?: string } | null): ProbeResult {
  const last = stdout.trim().split(/\r?\n/).pop() ?? '';
  try {
    const j = JSON.parse(last) as { ok?: unknown; python?: unknown; reason?: unknown };
    if (typeof j.ok === 'boolean') {
      return {
        ok: j.ok,
        python: typeof j.python === 'string' ? j.python : undefined,
        reason: typeof j.reason === 'string' ? j.reason : undefined,
      };
    }
  } catch {
    // not the launcher's answer: an interpreter too old for -I, a crash, a missing file
  }
  const said = (stderr.trim().split(/\r?\n/)[0] ?? '').trim();
  const reason = said || error?.message || `exited with ${String(error?.code ?? 'no answer')}`;
  return { ok: false, reason };
}

/** Runs `PYTHON -I launcher --probe` (isolated: no user site-packages, no PYTHON* variables). */
export function runProbe(candidate: PythonCandidate, launcher: string, timeoutMs = 20000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(candidate.command, [...candidate.args, '-I', launcher, '--probe'],
      { timeout: timeoutMs, windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => resolve(parseProbe(String(stdout ?? ''), String(stderr ?? ''), error)));
  });
}

function describe(c: PythonCandidate): string {
  return [c.command, ...c.args].join(' ');
}

/** The server to start, or the message that says why there is none. */
export async function chooseServer(o: {
  settings: LocklsSettings;
  env: Environment;
  serverPathSet: boolean;
  launcher?: string;
  selectedPython?: string;
  probe?: Probe;
}): Promise<ServerChoice> {
  const { settings, env } = o;
  if (o.serverPathSet) {
    const { command, args } = serverCommand(settings, env);
    const exe = findExecutable(command, env);
    if (!exe) return { kind: 'none', message: notFoundMessage(command), bundled: false, problem: 'server-path' };
    return { kind: 'configured', command: exe, args, detail: `lockls.server.path: ${exe}` };
  }
  const args = serverCommand(settings, env).args;
  const tried: string[] = [];
  if (o.launcher) {
    const probe = o.probe ?? runProbe;
    for (const c of pythonCandidates(env, o.selectedPython)) {
      const r = await probe(c, o.launcher);
      if (r.ok) {
        return {
          kind: 'bundled',
          command: c.command,
          args: [...c.args, '-I', o.launcher, ...args],
          detail: `the bundled server with ${describe(c)} (Python ${r.python ?? '?'}, from ${c.source})`,
        };
      }
      tried.push(`${describe(c)}: ${r.reason ?? 'unusable'}`);
    }
  }
  const onPath = findExecutable('lockls', env);
  if (onPath) {
    return { kind: 'path', command: onPath, args, detail: `lockls on PATH: ${onPath}` };
  }
  return o.launcher
    ? { kind: 'none', message: noPythonMessage(tried), bundled: true, problem: 'no-python' }
    : { kind: 'none', message: noBundleMessage(), bundled: false, problem: 'no-bundle' };
}

/** `lockls.server.path` names nothing. */
export function notFoundMessage(command: string): string {
  return (
    `lockls: "lockls.server.path" is \`${command}\`, which was not found. ` +
    'Set it to the lockls executable (e.g. ${workspaceFolder}/.venv/bin/lockls), ' +
    'or remove the setting to use the server bundled with the extension.'
  );
}

/** A platform .vsix, but no Python that can run its server. */
export function noPythonMessage(tried: string[]): string {
  const what = tried.length ? ` Tried: ${tried.join('; ')}.` : ' None was found on PATH.';
  return (
    `lockls: the bundled language server needs Python ${MINIMUM_PYTHON} or newer.${what} ` +
    `Install Python ${MINIMUM_PYTHON}+ so that \`python3\` (Windows: \`python\`) is on PATH, or select one ` +
    'with the Python extension, then run "lockls: Restart Server"; ' +
    'or set "lockls.server.path" to a lockls executable.'
  );
}

/** The neutral .vsix (no bundled server) and no `lockls` on PATH. */
export function noBundleMessage(): string {
  return (
    'lockls: this build of the extension does not bundle the language server, and `lockls` is not on PATH. ' +
    `Install the extension's .vsix for your platform (lockls-VERSION-linux-x64.vsix, …-darwin-arm64.vsix, … ` +
    `from ${REPOSITORY_URL}/releases), which brings the server; or install the server from the repository ` +
    `with \`${INSTALL_COMMAND}\` (or \`pip install .\` in a clone, in a virtual environment) ` +
    'and make sure `lockls` is on PATH; or set "lockls.server.path" to the lockls executable.'
  );
}

/** The chosen server did not start. */
export function startFailedMessage(choice: { kind: string; command: string; detail: string }, detail?: string): string {
  const why = detail ? ` (${detail})` : '';
  if (choice.kind === 'bundled') {
    return (
      `lockls: the bundled language server could not be started with ${choice.command}${why}. ` +
      'See "lockls: Show Output" for its log; "lockls.server.path" can name another lockls executable.'
    );
  }
  return startFailureMessage(choice.command, 'failed', detail);
}
