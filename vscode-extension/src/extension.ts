import * as os from 'os';
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  DOCUMENT_SELECTOR,
  Environment,
  INSTALL_COMMAND,
  ServerState,
  StartProblem,
  initializationOptions,
  needsRestart,
  normalizeSettings,
  statusBar,
} from './config';
import { chooseServer, findBundle, isServerPathSet, startFailedMessage } from './server';

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel;
let status: vscode.StatusBarItem;
let starting: Promise<void> | undefined;
let extensionPath: string;

function environment(): Environment {
  return {
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    home: os.homedir(),
    env: process.env,
  };
}

function setState(state: ServerState, problem?: StartProblem): void {
  const version = client?.initializeResult?.serverInfo?.version;
  const s = statusBar(state, version, problem);
  status.text = s.text;
  status.tooltip = s.tooltip;
  status.backgroundColor = s.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  status.show();
}

async function reportStartFailure(
  message: string,
  reason: 'not-found' | 'failed',
  offerInstall: boolean,
  problem?: StartProblem,
): Promise<void> {
  setState(reason, problem);
  output.appendLine(message);
  const actions = offerInstall ? ['Open Settings', 'Copy Install Command', 'Show Output'] : ['Open Settings', 'Show Output'];
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'lockls.server');
  } else if (choice === 'Show Output') {
    output.show(true);
  } else if (choice === 'Copy Install Command') {
    await vscode.env.clipboard.writeText(INSTALL_COMMAND);
  }
}

/** The interpreter the Python extension (ms-python.python, optional) has selected, in a
 * trusted workspace only: an untrusted repository must not pick the program we run. */
async function selectedPython(): Promise<string | undefined> {
  if (!vscode.workspace.isTrusted) return undefined;
  const python = vscode.extensions.getExtension('ms-python.python');
  if (!python) return undefined;
  try {
    const api = python.isActive ? python.exports : await python.activate();
    const environments = api?.environments;
    if (!environments?.getActiveEnvironmentPath) return undefined;
    const active = environments.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    const resolved = await environments.resolveEnvironment?.(active);
    return resolved?.executable?.uri?.fsPath ?? active?.path;
  } catch (error) {
    output.appendLine(`The Python extension's interpreter is unknown: ${String(error)}`);
    return undefined;
  }
}

async function startClient(): Promise<void> {
  const config = vscode.workspace.getConfiguration('lockls');
  const settings = normalizeSettings(config);
  const env = environment();
  const launcher = findBundle(extensionPath);
  const choice = await chooseServer({
    settings,
    env,
    serverPathSet: isServerPathSet(config.inspect('server.path'), vscode.workspace.isTrusted),
    launcher,
    selectedPython: launcher ? await selectedPython() : undefined,
  });
  if (choice.kind === 'none') {
    // the install command only helps when there is no bundled server to fix (a setting, a Python)
    void reportStartFailure(choice.message, 'not-found', choice.problem === 'no-bundle', choice.problem);
    return;
  }
  const { command: executable, args } = choice;
  setState('starting');
  output.appendLine(`Starting ${choice.detail}: ${[executable, ...args].join(' ')}`);
  const failed = (detail: string) => reportStartFailure(startFailedMessage(choice, detail), 'failed', choice.kind !== 'bundled');

  const serverOptions: ServerOptions = {
    command: executable,
    args,
    transport: TransportKind.stdio,
    options: { cwd: env.workspaceFolder },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    initializationOptions: initializationOptions(settings),
    // didChangeConfiguration sends the "lockls" section (configFile, select, ...).
    synchronize: { configurationSection: 'lockls' },
    outputChannel: output,
    traceOutputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationFailedHandler: (error) => {
      void failed(String(error?.message ?? error));
      return false;
    },
  };
  const c = new LanguageClient('lockls', 'lockls', serverOptions, clientOptions);
  client = c;
  c.onDidChangeState((e) => {
    if (client !== c) return;
    if (e.newState === State.Running) setState('running');
    else if (e.newState === State.Starting) setState('starting');
    else setState('stopped');
  });
  try {
    await c.start();
    setState('running');
  } catch (error) {
    if (client === c) client = undefined;
    await failed(error instanceof Error ? error.message : String(error));
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop(5000);
    } catch (error) {
      output.appendLine(`Stopping the server: ${String(error)}`);
    }
  }
}

async function restart(): Promise<void> {
  if (starting) await starting;
  starting = (async () => {
    await stopClient();
    await startClient();
  })();
  try {
    await starting;
  } finally {
    starting = undefined;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extensionPath = context.extensionPath;
  output = vscode.window.createOutputChannel('lockls', { log: true });
  status = vscode.window.createStatusBarItem('lockls.status', vscode.StatusBarAlignment.Right, 100);
  status.name = 'lockls';
  status.command = 'lockls.showOutput';
  context.subscriptions.push(
    output,
    status,
    vscode.commands.registerCommand('lockls.restartServer', restart),
    vscode.commands.registerCommand('lockls.showOutput', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (needsRestart((section) => e.affectsConfiguration(section))) void restart();
    }),
  );
  starting = startClient();
  try {
    await starting;
  } finally {
    starting = undefined;
  }
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
