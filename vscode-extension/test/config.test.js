// Unit tests of src/config.ts (bundled to out/config.js by `npm test`): plain node --test.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const c = require('../out/config.js');

const settings = (o) => ({ get: (k) => o[k] });

test('defaults when nothing is set', () => {
  assert.deepEqual(c.normalizeSettings(settings({})), {
    serverPath: 'lockls', serverArgs: [], configFile: null, select: null, indexWorkspace: true, heldLockHints: false,
  });
  assert.equal(c.normalizeSettings(settings({ indexWorkspace: false })).indexWorkspace, false);
  assert.equal(c.normalizeSettings(settings({ 'inlayHints.heldLocks': true })).heldLockHints, true);
});

test('settings are cleaned up', () => {
  const s = c.normalizeSettings(settings({
    'server.path': '  /opt/lockls/bin/lockls ', 'server.args': ['--log-file', 3, '/tmp/x.log'],
    configFile: ' ', select: ['lock-leak', null, 'double-lock'],
  }));
  assert.equal(s.serverPath, '/opt/lockls/bin/lockls');
  assert.deepEqual(s.serverArgs, ['--log-file', '/tmp/x.log']);
  assert.equal(s.configFile, null);
  assert.deepEqual(s.select, ['lock-leak', 'double-lock']);
  assert.equal(c.normalizeSettings(settings({ 'server.path': '' })).serverPath, 'lockls');
});

test('initializationOptions carry only what is set', () => {
  const base = c.normalizeSettings(settings({}));
  assert.deepEqual(c.initializationOptions(base), {});
  assert.deepEqual(c.initializationOptions({ ...base, configFile: 'ci/lockls.toml', select: [] }),
    { configFile: 'ci/lockls.toml', select: [] });
  assert.deepEqual(c.initializationOptions({ ...base, indexWorkspace: false }), { indexWorkspace: false });
  assert.deepEqual(c.initializationOptions({ ...base, heldLockHints: true }), { inlayHints: { heldLocks: true } });
});

test('variables are expanded in the command and its arguments', () => {
  const env = { workspaceFolder: '/ws', home: '/home/u', env: { LOG: '/var/log' } };
  const s = { serverPath: '~/venv/bin/lockls', serverArgs: ['--log-file', '${env:LOG}/l.log', '${workspaceFolder}/x', '${userHome}'],
    configFile: null, select: null, indexWorkspace: true };
  assert.deepEqual(c.serverCommand(s, env), {
    command: '/home/u/venv/bin/lockls', args: ['--log-file', '/var/log/l.log', '/ws/x', '/home/u'],
  });
  assert.equal(c.expandVariables('${env:NOPE}', env), '');
  assert.equal(c.expandVariables('${workspaceFolder}', { env: {} }), '${workspaceFolder}');
});

test('a relative path is relative to the workspace folder; a bare name stays a command', () => {
  const env = { workspaceFolder: '/ws', env: {} };
  assert.equal(c.serverCommand({ serverPath: '.venv/bin/lockls', serverArgs: [] }, env).command, '/ws/.venv/bin/lockls');
  assert.equal(c.serverCommand({ serverPath: 'lockls', serverArgs: [] }, env).command, 'lockls');
});

test('findExecutable searches PATH and checks the executable bit', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lockls-ext-'));
  const exe = path.join(dir, 'lockls');
  fs.writeFileSync(exe, '#!/bin/sh\n');
  fs.chmodSync(exe, 0o755);
  const plain = path.join(dir, 'notexec');
  fs.writeFileSync(plain, '');
  fs.chmodSync(plain, 0o644);
  const env = { env: { PATH: ['/nonexistent', dir].join(path.delimiter) }, platform: 'linux' };
  assert.equal(c.findExecutable('lockls', env), exe);
  assert.equal(c.findExecutable(exe, env), exe);
  assert.equal(c.findExecutable('notexec', env), undefined);
  assert.equal(c.findExecutable('missing-lockls', env), undefined);
  assert.equal(c.findExecutable(dir, env), undefined); // a directory is not a command
});

test('the start-failure message says how to install the server', () => {
  const m = c.startFailureMessage('lockls', 'not-found');
  // lockls is not on PyPI yet: the message offers what works (the repository), never `pip install lockls`
  assert.match(m, /pipx install git\+https:\/\/github\.com\/lockls\/lockls/);
  assert.doesNotMatch(m, /pip install lockls/);
  assert.equal(c.INSTALL_COMMAND, 'pipx install git+https://github.com/lockls/lockls');
  assert.match(m, /lockls\.server\.path/);
  const f = c.startFailureMessage('/x/lockls', 'failed', 'exit code 1');
  assert.match(f, /could not be started \(exit code 1\)/);
  assert.match(f, /Show Output/);
});

test('status bar per state', () => {
  assert.equal(c.statusBar('running', '0.1.0').tooltip.includes('0.1.0'), true);
  assert.equal(c.statusBar('not-found').error, true);
  assert.equal(c.statusBar('failed').error, true);
  assert.equal(c.statusBar('starting').error, false);
  assert.match(c.statusBar('stopped').tooltip, /Restart Server/);
});

test('the red status item says what failed, and suggests pipx only when no server is bundled', () => {
  const noPython = c.statusBar('not-found', undefined, 'no-python');
  assert.equal(noPython.error, true);
  assert.equal(noPython.tooltip, 'lockls: no Python 3.10+ that can run the bundled server was found — install one '
    + '(`python3` on PATH) or select one with the Python extension, then run "lockls: Restart Server" '
    + '(click for the output: the Pythons tried)');
  assert.doesNotMatch(noPython.tooltip, /pipx|install it with/);
  const setting = c.statusBar('not-found', undefined, 'server-path');
  assert.equal(setting.tooltip, 'lockls: "lockls.server.path" names no executable — fix the setting or remove it '
    + '(click for the output)');
  assert.doesNotMatch(setting.tooltip, /pipx/);
  const noBundle = c.statusBar('not-found', undefined, 'no-bundle');
  assert.equal(noBundle.tooltip, 'lockls: server not found — install the extension\'s .vsix for your platform, '
    + 'or the server with `pipx install git+https://github.com/lockls/lockls` (click for the output)');
  assert.equal(c.statusBar('not-found').tooltip, noBundle.tooltip);
});

test('C files and C headers only', () => {
  const langs = c.DOCUMENT_SELECTOR.map((s) => `${s.language}:${s.pattern ?? ''}`);
  assert.deepEqual([...new Set(langs)].sort(), ['c:', 'cpp:**/*.h']);
});

test('only server command changes need a restart', () => {
  assert.equal(c.needsRestart((s) => s === 'lockls.server'), true);
  assert.equal(c.needsRestart((s) => s === 'lockls.indexWorkspace'), true);
  assert.equal(c.needsRestart((s) => s === 'lockls.select'), false);
});

test('package.json contributes the documented settings and commands', () => {
  const pkg = require('../package.json');
  const props = Object.keys(pkg.contributes.configuration.properties).sort();
  assert.deepEqual(props, ['lockls.configFile', 'lockls.indexWorkspace', 'lockls.inlayHints.heldLocks', 'lockls.select',
    'lockls.server.args', 'lockls.server.path', 'lockls.trace.server']);
  const titles = pkg.contributes.commands.map((x) => `${x.category}: ${x.title}`).sort();
  assert.deepEqual(titles, ['lockls: Restart Server', 'lockls: Show Output']);
  assert.ok(pkg.activationEvents.includes('onLanguage:c'));
  assert.ok(pkg.activationEvents.includes('onLanguage:cpp')); // headers open as C++
  assert.equal(pkg.main, './dist/extension.js');
});
