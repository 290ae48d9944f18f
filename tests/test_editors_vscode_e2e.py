"""vscode-extension/ in real VS Code: code-server 4.100.3 (VS Code 1.100) with the packaged
.vsix installed, driven through playwright-core and Debian's Chromium
(tests/editors/vscode-e2e/driver.js): the squiggle and the Problems entry of a lock leak,
hover with the held locks, and the quick-fix that makes the finding go away.

code-server, Chromium and everything they start run under a marker environment variable
and are killed at the end (process groups first, then any straggler carrying the marker),
whatever happens."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from editors import HERE, REPO, lockls_command, missing, run_client, which

E2E = HERE / "vscode-e2e"
EXT = REPO / "vscode-extension"
ARTIFACTS = HERE / "artifacts"
LEAK_C = HERE / "leak.c"
# leak.c: `pthread_mutex_lock(&m);` on line 8, `counter++;` on 9, `return -1;` on 11.
LEAK_LINE = 11  # 1-based, as VS Code shows it
HOVER_TEXT = "counter++;"
FIX_TITLE = "Release `&m` with `pthread_mutex_unlock` before this return"
MARKER = "LOCKLS_E2E_RUN"


def tools() -> dict[str, str]:
    node = which("node")
    if node is None:
        missing("Node.js (apt-get install nodejs)")
    chromium = which("chromium") or which("chromium-browser")
    if chromium is None:
        missing("Chromium (apt-get install chromium)")
    code_server = E2E / "node_modules" / ".bin" / "code-server"
    if not code_server.exists() or not (E2E / "node_modules" / "playwright-core").is_dir():
        missing("code-server 4.100.3 and playwright-core (npm ci in tests/editors/vscode-e2e/)")
    vsce = EXT / "node_modules" / ".bin" / "vsce"
    if not vsce.exists():
        missing("the extension's npm dependencies (npm ci in vscode-extension/)")
    return {"node": node, "chromium": chromium, "code_server": str(code_server), "vsce": str(vsce)}


def kill_marked(run_id: str) -> list[int]:
    """SIGKILL every process whose environment carries this run's marker (Chromium is
    started detached by Playwright, in a process group of its own)."""
    needle = f"{MARKER}={run_id}".encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):  # (a zombie's environment reads empty)
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                pass
    return killed


def killpg(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def start_code_server(argv: list[str], env: dict, log: Path, timeout: float = 20) -> tuple[subprocess.Popen, str]:
    """Start code-server on a free port (port 0: it binds, then says which); returns the
    process and its base URL."""
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(r"HTTP server listening on (http://127\.0\.0\.1:\d+)/", log.read_text())
        if m:
            return proc, m[1]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    killpg(proc)
    pytest.fail(f"code-server did not start:\n{log.read_text()}", pytrace=False)


def test_vscode_squiggle_problems_hover_quick_fix(tmp_path):
    t = tools()
    run_id = uuid.uuid4().hex
    home = tmp_path / "home"
    env = dict(os.environ)
    env.update({
        MARKER: run_id,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    })
    env.pop("VSCODE_IPC_HOOK_CLI", None)

    # The .vsix, as `npm run package` builds it (type-check, bundle, vsce), into tmp.
    vsix = tmp_path / "lockls.vsix"
    proc = run_client([t["vsce"], "package", "--no-dependencies", "--allow-missing-repository",
                       "--no-rewrite-relative-links", "--out", str(vsix)], cwd=EXT, timeout=120)
    assert proc.returncode == 0 and vsix.exists(), proc.stdout + proc.stderr

    # A workspace with the leak; fresh user data and extensions directories.
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(LEAK_C, ws / "leak.c")
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)
    server = lockls_command()
    (user_data / "User" / "settings.json").write_text(json.dumps({
        "lockls.server.path": server[0],
        "lockls.server.args": server[1:],
        "security.workspace.trust.enabled": False,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "update.mode": "none",
        "editor.hover.delay": 200,
        "editor.minimap.enabled": False,
        "workbench.reduceMotion": "on",  # no fade-in: the screenshot shows the hover whole
    }, indent=2))
    common = [t["code_server"], "--config", str(tmp_path / "code-server.yaml"),
              "--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]

    code_server = driver = None
    result_file = tmp_path / "result.json"
    shot = tmp_path / "vscode.png"
    try:
        proc = run_client(common + ["--install-extension", str(vsix)], env=env, timeout=60)
        assert proc.returncode == 0 and "successfully installed" in proc.stdout, proc.stdout + proc.stderr

        code_server, url = start_code_server(
            common + ["--bind-addr", "127.0.0.1:0", "--auth", "none", "--disable-telemetry",
                      "--disable-workspace-trust", "--disable-update-check",
                      "--disable-getting-started-override"],
            env, tmp_path / "code-server.log")

        driver_env = dict(env)
        driver_env.update({
            "NODE_PATH": str(E2E / "node_modules"),
            "E2E_URL": f"{url}/?folder={ws}",
            "E2E_FILE": "leak.c",
            "E2E_OUT": str(result_file),
            "E2E_SHOT": str(shot),
            "E2E_HOVER_TEXT": HOVER_TEXT,
            "E2E_FIX_TITLE": FIX_TITLE,
            "E2E_CHROMIUM": t["chromium"],
        })
        driver = run_client([t["node"], str(E2E / "driver.js")], env=driver_env, cwd=E2E, timeout=60)
    finally:
        killpg(code_server)
        kill_marked(run_id)
        ARTIFACTS.mkdir(exist_ok=True)
        for made, keep in ((shot, "vscode.png"), (result_file, "vscode-result.json"),
                           (tmp_path / "code-server.log", "vscode-code-server.log")):
            if made.exists():
                shutil.copy(made, ARTIFACTS / keep)
    deadline = time.monotonic() + 5
    while (left := kill_marked(run_id)) and time.monotonic() < deadline:
        time.sleep(0.2)  # killed, maybe not gone yet
    assert not left, f"processes of the run survived the cleanup: {left}"

    assert result_file.exists(), f"the driver wrote nothing\n{driver.stdout}\n{driver.stderr}"
    result = json.loads(result_file.read_text())
    log = (tmp_path / "code-server.log").read_text()
    assert result["ok"], (f"failed at step {result['step']}: {result.get('error')}\n"
                          f"observed: {json.dumps(result, indent=1)}\ncode-server log:\n{log}")
    assert driver.returncode == 0, driver.stderr

    # (a) the squiggle on the return, the Problems entry with the rule and the line
    assert result["squiggleLine"] == LEAK_LINE, result
    entries = [p for p in result["problems"] if "lock-leak" in p["text"]]
    assert len(entries) == 1, result["problems"]
    assert f"[Ln {LEAK_LINE}, Col" in entries[0]["text"] and "lockls" in entries[0]["text"], entries
    assert "still held at this return" in entries[0]["text"] and "&m" in entries[0]["text"]

    # (b) hover: the held locks, on a line inside the function and on the squiggle
    for hover in (result["hoverLine"], result["hoverSquiggle"]):
        assert "Locks held here" in hover and "&m" in hover and "line 8" in hover, hover
    assert "lock-leak" in result["hoverSquiggle"]

    # (c) the quick-fix is offered; applied, it inserts the unlock and the finding goes
    assert any(FIX_TITLE in a for a in result["codeActions"]), result["codeActions"]
    assert not any("lock-leak" in p["text"] for p in result["problemsAfterFix"]), result["problemsAfterFix"]
    text = result["textAfterFix"].replace("\u00a0", " ")
    assert re.search(r"if \(fail\) \{\s*pthread_mutex_unlock\(&m\);\s*return -1;\s*\}", text), text
