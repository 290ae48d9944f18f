// Logic of the extension that does not need the `vscode` module (unit-tested with
// plain `node --test`, see test/config.test.js).
import * as fs from 'fs';
import * as path from 'path';

export interface LocklsSettings {
  serverPath: string;
  serverArgs: string[];
  configFile: string | null;
  select: string[] | null;
  indexWorkspace: boolean;
  heldLockHints: boolean;
}

export interface Environment {
  workspaceFolder?: string;
  home?: string;
  env: Record<string, string | undefined>;
  platform?: string;
}

export const DEFAULT_SERVER = 'lockls';
/** Where lockls comes from until it is published on PyPI. */
export const REPOSITORY_URL = 'https://github.com/lockls/lockls';
/** The install command the error dialog offers to copy (pipx: its own venv, `lockls` on PATH). */
export const INSTALL_COMMAND = `pipx install git+${REPOSITORY_URL}`;
/** The oldest Python that runs the server (the bundled one too). */
export const MINIMUM_PYTHON = '3.10';

/** Settings as read from the configuration (any shape) with their defaults. */
export function normalizeSettings(raw: {
  get<T>(key: string): T | undefined;
}): LocklsSettings {
  const serverPath = raw.get<string>('server.path');
  const serverArgs = raw.get<unknown>('server.args');
  const configFile = raw.get<string | null>('configFile');
  const select = raw.get<unknown>('select');
  const indexWorkspace = raw.get<unknown>('indexWorkspace');
  const heldLockHints = raw.get<unknown>('inlayHints.heldLocks');
  return {
    serverPath: typeof serverPath === 'string' && serverPath.trim() ? serverPath.trim() : DEFAULT_SERVER,
    serverArgs: Array.isArray(serverArgs) ? serverArgs.filter((a): a is string => typeof a === 'string') : [],
    configFile: typeof configFile === 'string' && configFile.trim() ? configFile.trim() : null,
    select: Array.isArray(select) ? select.filter((r): r is string => typeof r === 'string') : null,
    indexWorkspace: indexWorkspace !== false,
    heldLockHints: heldLockHints === true,
  };
}

/** Expands `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}`. */
export function expandVariables(value: string, e: Environment): string {
  let out = value;
  if (e.home && (out === '~' || out.startsWith('~/'))) {
    out = e.home + out.slice(1);
  }
  return out.replace(/\$\{(userHome|workspaceFolder|env:([^}]+))\}/g, (whole, name: string, envName?: string) => {
    if (envName !== undefined) return e.env[envName] ?? '';
    if (name === 'userHome') return e.home ?? whole;
    return e.workspaceFolder ?? whole;
  });
}

/** The server command line from the settings: `{ command, args }`. */
export function serverCommand(s: LocklsSettings, e: Environment): { command: string; args: string[] } {
  let command = expandVariables(s.serverPath, e);
  // A relative path with a separator is relative to the workspace folder.
  if (hasSeparator(command) && !path.isAbsolute(command) && e.workspaceFolder) {
    command = path.join(e.workspaceFolder, command);
  }
  return { command, args: s.serverArgs.map((a) => expandVariables(a, e)) };
}

function hasSeparator(p: string): boolean {
  return p.includes('/') || p.includes('\\');
}

/** The lockls settings sent as initializationOptions (only those that are set). */
export function initializationOptions(s: LocklsSettings): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (s.configFile !== null) o.configFile = s.configFile;
  if (s.select !== null) o.select = s.select;
  if (!s.indexWorkspace) o.indexWorkspace = false;
  if (s.heldLockHints) o.inlayHints = { heldLocks: true };
  return o;
}

/** Where `command` resolves to (like the shell would), or undefined when it doesn't. */
export function findExecutable(command: string, e: Environment): string | undefined {
  const platform = e.platform ?? process.platform;
  const exts = platform === 'win32'
    ? ['', ...(e.env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean)]
    : [''];
  const candidates: string[] = [];
  if (hasSeparator(command) || path.isAbsolute(command)) {
    for (const ext of exts) candidates.push(command + ext);
  } else {
    const dirs = (e.env.PATH ?? e.env.Path ?? '').split(platform === 'win32' ? ';' : path.delimiter);
    for (const dir of dirs.filter(Boolean)) {
      for (const ext of exts) candidates.push(path.join(dir, command + ext));
    }
  }
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (!st.isFile()) continue;
      if (platform !== 'win32') fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The message shown when the server cannot be started, with how to fix it. */
export function startFailureMessage(command: string, reason: 'not-found' | 'failed', detail?: string): string {
  if (reason === 'not-found') {
    return (
      `lockls: the language server \`${command}\` was not found. ` +
      `Install it (Python 3.10+) with \`${INSTALL_COMMAND}\`, or \`pip install .\` in a clone of ${REPOSITORY_URL} ` +
      '(in a virtual environment), and make sure its scripts directory is on PATH; ' +
      'or set "lockls.server.path" to the lockls executable (e.g. .venv/bin/lockls).'
    );
  }
  return (
    `lockls: the language server \`${command}\` could not be started` +
    (detail ? ` (${detail})` : '') +
    `. Check that \`${command} --version\` works in a terminal (reinstall with \`${INSTALL_COMMAND}\`), ` +
    'and see "lockls: Show Output" for its log.'
  );
}

export type ServerState = 'starting' | 'running' | 'stopped' | 'not-found' | 'failed';

/** Why no server could be started (see server.ts `chooseServer`): `server-path`, the
 * "lockls.server.path" setting names nothing; `no-python`, the bundled server has no
 * Python 3.10+ to run it (and `lockls` is not on PATH); `no-bundle`, this .vsix bundles
 * no server and `lockls` is not on PATH. */
export type StartProblem = 'server-path' | 'no-python' | 'no-bundle';

/** The tooltip of the red status item when no server was found: what actually failed. */
function notFoundTooltip(problem?: StartProblem): string {
  switch (problem) {
    case 'server-path':
      return 'lockls: "lockls.server.path" names no executable — fix the setting or remove it (click for the output)';
    case 'no-python':
      return (
        `lockls: no Python ${MINIMUM_PYTHON}+ that can run the bundled server was found — install one ` +
        '(`python3` on PATH) or select one with the Python extension, then run "lockls: Restart Server" ' +
        '(click for the output: the Pythons tried)'
      );
    default:
      return (
        'lockls: server not found — install the extension\'s .vsix for your platform, ' +
        `or the server with \`${INSTALL_COMMAND}\` (click for the output)`
      );
  }
}

/** Status bar text and tooltip for a server state (`problem`: why it is 'not-found'). */
export function statusBar(
  state: ServerState,
  version?: string,
  problem?: StartProblem,
): { text: string; tooltip: string; error: boolean } {
  const v = version ? ` ${version}` : '';
  switch (state) {
    case 'starting':
      return { text: '$(sync~spin) lockls', tooltip: 'lockls: starting the language server…', error: false };
    case 'running':
      return { text: '$(lock) lockls', tooltip: `lockls${v}: running (click for the output)`, error: false };
    case 'stopped':
      return { text: '$(circle-slash) lockls', tooltip: 'lockls: server stopped (run "lockls: Restart Server")', error: false };
    case 'not-found':
      return { text: '$(error) lockls', tooltip: notFoundTooltip(problem), error: true };
    case 'failed':
      return { text: '$(error) lockls', tooltip: 'lockls: the server failed (click for the output)', error: true };
  }
}

/** Documents lockls analyses: C files, and C headers (which VS Code calls `cpp`). */
export const DOCUMENT_SELECTOR = [
  { scheme: 'file', language: 'c' },
  { scheme: 'untitled', language: 'c' },
  { scheme: 'file', language: 'cpp', pattern: '**/*.h' },
];

/** Whether a configuration change needs the server restarted (command or arguments). */
export function needsRestart(affects: (section: string) => boolean): boolean {
  // the workspace index is started (or not) with the server
  return affects('lockls.server') || affects('lockls.indexWorkspace');
}
