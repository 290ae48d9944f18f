// Unit tests of src/server.ts (bundled to out/server.js by `npm test`): which server the
// extension starts. Plain node --test; fake Pythons are shell scripts in a temp directory.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const s = require('../out/server.js');

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lockls-server-'));
}

function executable(dir, name, body = '#!/bin/sh\n') {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  fs.chmodSync(p, 0o755);
  return p;
}

const settings = { serverPath: 'lockls', serverArgs: ['--log-file', '/tmp/l.log'], configFile: null, select: null, indexWorkspace: true };

test('isServerPathSet: only a non-empty value the user chose; workspace values only when trusted', () => {
  assert.equal(s.isServerPathSet(undefined, true), false);
  assert.equal(s.isServerPathSet({ defaultValue: 'lockls' }, true), false);
  assert.equal(s.isServerPathSet({ globalValue: '  ' }, true), false);
  assert.equal(s.isServerPathSet({ globalValue: '/opt/lockls' }, false), true);
  assert.equal(s.isServerPathSet({ workspaceValue: '.venv/bin/lockls' }, false), false);
  assert.equal(s.isServerPathSet({ workspaceValue: '.venv/bin/lockls' }, true), true);
  assert.equal(s.isServerPathSet({ workspaceFolderValue: 'x/lockls' }, true), true);
});

test('findBundle: bundled/tool/lsp_server.py next to bundled/libs', () => {
  const ext = tempDir();
  assert.equal(s.findBundle(ext), undefined);
  fs.mkdirSync(path.join(ext, 'bundled', 'tool'), { recursive: true });
  fs.writeFileSync(path.join(ext, 'bundled', 'tool', 'lsp_server.py'), '');
  assert.equal(s.findBundle(ext), undefined); // no libs: not a bundle
  fs.mkdirSync(path.join(ext, 'bundled', 'libs'));
  assert.equal(s.findBundle(ext), path.join(ext, 'bundled', 'tool', 'lsp_server.py'));
});

test('pythonCandidates: the Python extension first, then python3 and python on PATH, each once', () => {
  const dir = tempDir();
  const py3 = executable(dir, 'python3');
  const py = executable(dir, 'python');
  const env = { env: { PATH: dir }, platform: 'linux' };
  assert.deepEqual(s.pythonCandidates(env), [
    { command: py3, args: [], source: 'PATH' },
    { command: py, args: [], source: 'PATH' },
  ]);
  assert.deepEqual(s.pythonCandidates(env, '/venv/bin/python').map((c) => [c.command, c.source]),
    [['/venv/bin/python', 'python-extension'], [py3, 'PATH'], [py, 'PATH']]);
  // the selected interpreter is python3 on PATH: tried once
  assert.deepEqual(s.pythonCandidates(env, py3).map((c) => c.source), ['python-extension', 'PATH']);
  assert.deepEqual(s.pythonCandidates({ env: { PATH: tempDir() }, platform: 'linux' }), []);
});

test('pythonCandidates on Windows: python, then the py launcher with -3, then python3', () => {
  const dir = tempDir();
  for (const n of ['python.exe', 'py.exe', 'python3.exe']) fs.writeFileSync(path.join(dir, n), '');
  const env = { env: { PATH: dir, PATHEXT: '.exe' }, platform: 'win32' }; // (this file system is case-sensitive)
  assert.deepEqual(s.pythonCandidates(env).map((c) => [path.basename(c.command), c.args]),
    [['python.exe', []], ['py.exe', ['-3']], ['python3.exe', []]]);
});

test('parseProbe: the launcher\'s JSON line, else the first line of stderr', () => {
  assert.deepEqual(s.parseProbe('{"ok": true, "python": "3.11.2", "executable": "/usr/bin/python3", "reason": null}\n', '', null),
    { ok: true, python: '3.11.2', reason: undefined });
  assert.deepEqual(s.parseProbe('{"ok": false, "python": "3.9.18", "reason": "Python 3.9 is older than 3.10"}', '', null),
    { ok: false, python: '3.9.18', reason: 'Python 3.9 is older than 3.10' });
  // Python 2 does not know -I
  assert.deepEqual(s.parseProbe('', 'Unknown option: -I\nusage: python [option] ...\n', { code: 2 }),
    { ok: false, reason: 'Unknown option: -I' });
  assert.deepEqual(s.parseProbe('', '', { code: 'ENOENT', message: 'spawn /nope ENOENT' }),
    { ok: false, reason: 'spawn /nope ENOENT' });
  assert.deepEqual(s.parseProbe('hello', '', { code: 1 }), { ok: false, reason: 'exited with 1' });
});

test('runProbe runs PYTHON [args] -I LAUNCHER --probe', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'argv');
  const fake = executable(dir, 'python3',
    `#!/bin/sh\necho "$@" > '${log}'\necho '{"ok": true, "python": "3.12.1", "reason": null}'\n`);
  const r = await s.runProbe({ command: fake, args: ['-X', 'utf8'], source: 'PATH' }, '/ext/bundled/tool/lsp_server.py');
  assert.deepEqual(r, { ok: true, python: '3.12.1', reason: undefined });
  assert.equal(fs.readFileSync(log, 'utf8').trim(), '-X utf8 -I /ext/bundled/tool/lsp_server.py --probe');
  const missing = await s.runProbe({ command: path.join(dir, 'nope'), args: [], source: 'PATH' }, '/x.py');
  assert.equal(missing.ok, false);
  assert.match(missing.reason, /ENOENT/);
});

function fakeProbe(answers) {
  const asked = [];
  const probe = async (c, launcher) => {
    asked.push([c.command, launcher]);
    return answers[c.command] ?? { ok: false, reason: 'not a Python' };
  };
  return { probe, asked };
}

test('chooseServer: the bundle with the first Python that can run it, the server arguments after the launcher', async () => {
  const dir = tempDir();
  const py3 = executable(dir, 'python3');
  const py = executable(dir, 'python');
  executable(dir, 'lockls'); // a lockls on PATH does not beat the bundle
  const { probe, asked } = fakeProbe({
    [py3]: { ok: false, python: '3.8.10', reason: 'Python 3.8 is older than 3.10' },
    [py]: { ok: true, python: '3.12.1' },
  });
  const launcher = '/ext/bundled/tool/lsp_server.py';
  const choice = await s.chooseServer({ settings, env: { env: { PATH: dir }, platform: 'linux' }, serverPathSet: false, launcher, probe });
  assert.deepEqual(choice, {
    kind: 'bundled', command: py, args: ['-I', launcher, '--log-file', '/tmp/l.log'],
    detail: `the bundled server with ${py} (Python 3.12.1, from PATH)`,
  });
  assert.deepEqual(asked, [[py3, launcher], [py, launcher]]);
});

test('chooseServer: the Python extension\'s interpreter is asked first', async () => {
  const dir = tempDir();
  executable(dir, 'python3');
  const { probe, asked } = fakeProbe({ '/venv/bin/python': { ok: true, python: '3.13.0' } });
  const choice = await s.chooseServer({
    settings, env: { env: { PATH: dir }, platform: 'linux' }, serverPathSet: false,
    launcher: '/ext/l.py', selectedPython: '/venv/bin/python', probe,
  });
  assert.equal(choice.kind, 'bundled');
  assert.equal(choice.command, '/venv/bin/python');
  assert.match(choice.detail, /Python 3\.13\.0, from python-extension/);
  assert.equal(asked.length, 1);
});

test('chooseServer: lockls.server.path wins over the bundle, and is never probed', async () => {
  const dir = tempDir();
  const mine = executable(dir, 'my-lockls');
  const { probe, asked } = fakeProbe({});
  const choice = await s.chooseServer({
    settings: { ...settings, serverPath: mine }, env: { env: { PATH: dir }, platform: 'linux' },
    serverPathSet: true, launcher: '/ext/l.py', probe,
  });
  assert.deepEqual(choice, { kind: 'configured', command: mine, args: ['--log-file', '/tmp/l.log'], detail: `lockls.server.path: ${mine}` });
  assert.deepEqual(asked, []);
  const gone = await s.chooseServer({
    settings: { ...settings, serverPath: '/nope/lockls' }, env: { env: { PATH: dir }, platform: 'linux' },
    serverPathSet: true, launcher: '/ext/l.py', probe,
  });
  assert.equal(gone.kind, 'none');
  assert.equal(gone.problem, 'server-path');
  assert.match(gone.message, /"lockls\.server\.path" is `\/nope\/lockls`, which was not found/);
});

test('chooseServer: no usable Python for the bundle falls back to lockls on PATH, else says which Pythons failed', async () => {
  const dir = tempDir();
  const py3 = executable(dir, 'python3');
  const { probe } = fakeProbe({ [py3]: { ok: false, python: '3.9.18', reason: 'Python 3.9 is older than 3.10' } });
  const env = { env: { PATH: dir }, platform: 'linux' };
  const none = await s.chooseServer({ settings, env, serverPathSet: false, launcher: '/ext/l.py', probe });
  assert.equal(none.kind, 'none');
  assert.equal(none.bundled, true);
  assert.equal(none.problem, 'no-python'); // the status item says so, not "install it with pipx"
  assert.ok(none.message.startsWith('lockls: the bundled language server needs Python 3.10 or newer. '
    + `Tried: ${py3}: Python 3.9 is older than 3.10. `), none.message);
  assert.doesNotMatch(none.message, /pip install lockls/);
  const lockls = executable(dir, 'lockls');
  const onPath = await s.chooseServer({ settings, env, serverPathSet: false, launcher: '/ext/l.py', probe });
  assert.deepEqual(onPath, { kind: 'path', command: lockls, args: ['--log-file', '/tmp/l.log'], detail: `lockls on PATH: ${lockls}` });
});

test('chooseServer without a bundle: lockls on PATH as before, else how to get the server', async () => {
  const dir = tempDir();
  executable(dir, 'python3');
  const { probe, asked } = fakeProbe({});
  const env = { env: { PATH: dir }, platform: 'linux' };
  const none = await s.chooseServer({ settings, env, serverPathSet: false, probe });
  assert.equal(none.kind, 'none');
  assert.equal(none.bundled, false);
  assert.equal(none.problem, 'no-bundle');
  assert.deepEqual(asked, []); // no bundle: no Python is asked
  // lockls is not on PyPI: the message offers the platform .vsix and the repository, never `pip install lockls`
  assert.match(none.message, /does not bundle the language server, and `lockls` is not on PATH/);
  assert.match(none.message, /lockls-VERSION-linux-x64\.vsix/);
  assert.match(none.message, /pipx install git\+https:\/\/github\.com\/lockls\/lockls/);
  assert.doesNotMatch(none.message, /pip install lockls/);
  const lockls = executable(dir, 'lockls');
  assert.equal((await s.chooseServer({ settings, env, serverPathSet: false, probe })).command, lockls);
});

test('startFailedMessage names the Python of a bundled server', () => {
  const bundled = s.startFailedMessage({ kind: 'bundled', command: '/usr/bin/python3', detail: '' }, 'exit code 2');
  assert.match(bundled, /^lockls: the bundled language server could not be started with \/usr\/bin\/python3 \(exit code 2\)\./);
  const path_ = s.startFailedMessage({ kind: 'path', command: '/usr/local/bin/lockls', detail: '' });
  assert.match(path_, /`\/usr\/local\/bin\/lockls --version` works/);
});
