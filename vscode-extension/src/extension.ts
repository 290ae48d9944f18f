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
  findExecutable,
  initializationOptions,
  needsRestart,
  normalizeSettings,
  serverCommand,
  startFailureMessage,
  statusBar,
} from './config';

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel;
let status: vscode.StatusBarItem;
let starting: Promise<void> | undefined;

function environment(): Environment {
  return {
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    home: os.homedir(),
    env: process.env,
  };
}

function setState(state: ServerState): void {
  const version = client?.initializeResult?.serverInfo?.version;
  const s = statusBar(state, version);
  status.text = s.text;
  status.tooltip = s.tooltip;
  status.backgroundColor = s.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  status.show();
}

async function reportStartFailure(command: string, reason: 'not-found' | 'failed', detail?: string): Promise<void> {
  setState(reason);
  const message = startFailureMessage(command, reason, detail);
  output.appendLine(message);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Copy Install Command', 'Show Output');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'lockls.server');
  } else if (choice === 'Show Output') {
    output.show(true);
  } else if (choice === 'Copy Install Command') {
    await vscode.env.clipboard.writeText(INSTALL_COMMAND);
  }
}

async function startClient(): Promise<void> {
  const settings = normalizeSettings(vscode.workspace.getConfiguration('lockls'));
  const env = environment();
  const { command, args } = serverCommand(settings, env);
  const executable = findExecutable(command, env);
  if (!executable) {
    void reportStartFailure(command, 'not-found');
    return;
  }
  setState('starting');
  output.appendLine(`Starting ${[executable, ...args].join(' ')}`);

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
      void reportStartFailure(command, 'failed', String(error?.message ?? error));
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
    await reportStartFailure(command, 'failed', error instanceof Error ? error.message : String(error));
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
