"""vscode-extension/ in real VS Code: code-server 4.100.3 (VS Code 1.100) with the packaged
.vsix installed, driven through playwright-core and Debian's Chromium
(tests/editors/vscode-e2e/driver.js): the squiggle and the Problems entry of a lock leak,
hover with the held locks, and the quick-fix that makes the finding go away: once with the
neutral .vsix and `lockls.server.path` set to the venv's lockls, once with the platform
.vsix of `scripts/build-release --target linux-x64` (the server bundled) and nothing else:
no lockls on PATH, no venv, no settings, only the system's python3.

code-server, Chromium and everything they start run under a marker environment variable
and are killed at the end (process groups first, then any straggler carrying the marker),
whatever happens."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
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


SETTINGS = {
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
}


def run_vscode(tmp_path: Path, t: dict[str, str], vsix: Path, settings: dict, env: dict,
               artifacts: str) -> dict:
    """Install `vsix` into a fresh code-server, open leak.c in a workspace, run the driver.
    `env` is code-server's whole environment (and so the extension's and the server's).
    Returns the driver's observations, its process, code-server's log and the extension's
    own log (the "lockls" output); the screenshot and logs are kept as ARTIFACTS/ARTIFACTS-*."""
    run_id = uuid.uuid4().hex
    home = tmp_path / "home"
    env = dict(env)
    env.update({
        MARKER: run_id,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    })
    env.pop("VSCODE_IPC_HOOK_CLI", None)

    # A workspace with the leak; fresh user data and extensions directories.
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(LEAK_C, ws / "leak.c")
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps({**SETTINGS, **settings}, indent=2))
    common = [t["code_server"], "--config", str(tmp_path / "code-server.yaml"),
              "--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]

    code_server = driver = None
    result_file = tmp_path / "result.json"
    shot = tmp_path / "vscode.png"
    log_file = tmp_path / "code-server.log"
    try:
        proc = run_client(common + ["--install-extension", str(vsix)], env=env, timeout=60)
        assert proc.returncode == 0 and "successfully installed" in proc.stdout, proc.stdout + proc.stderr

        code_server, url = start_code_server(
            common + ["--bind-addr", "127.0.0.1:0", "--auth", "none", "--disable-telemetry",
                      "--disable-workspace-trust", "--disable-update-check",
                      "--disable-getting-started-override"],
            env, log_file)

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
        for made, keep in ((shot, f"{artifacts}.png"), (result_file, f"{artifacts}-result.json"),
                           (log_file, f"{artifacts}-code-server.log")):
            if made.exists():
                shutil.copy(made, ARTIFACTS / keep)
    deadline = time.monotonic() + 5
    while (left := kill_marked(run_id)) and time.monotonic() < deadline:
        time.sleep(0.2)  # killed, maybe not gone yet
    assert not left, f"processes of the run survived the cleanup: {left}"

    assert result_file.exists(), f"the driver wrote nothing\n{driver.stdout}\n{driver.stderr}"
    # The "lockls" output channel (a log channel) is written under the user data directory.
    output = "\n".join(p.read_text(errors="replace") for p in sorted(user_data.glob("logs/**/*lockls*.log")))
    return {"result": json.loads(result_file.read_text()), "driver": driver,
            "log": log_file.read_text(), "output": output}


def assert_squiggle_problems_hover_fix(run: dict) -> None:
    result, driver = run["result"], run["driver"]
    assert result["ok"], (f"failed at step {result['step']}: {result.get('error')}\n"
                          f"observed: {json.dumps(result, indent=1)}\ncode-server log:\n{run['log']}\n"
                          f"lockls output:\n{run['output']}")
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


def test_vscode_squiggle_problems_hover_quick_fix(tmp_path):
    """The neutral .vsix (no server inside) with `lockls.server.path` set to the venv's lockls."""
    t = tools()
    # The .vsix, as `npm run package` builds it (type-check, bundle, vsce), into tmp.
    vsix = tmp_path / "lockls.vsix"
    proc = run_client([t["vsce"], "package", "--no-dependencies", "--allow-missing-repository",
                       "--no-rewrite-relative-links", "--out", str(vsix)], cwd=EXT, timeout=120)
    assert proc.returncode == 0 and vsix.exists(), proc.stdout + proc.stderr
    server = lockls_command()
    run = run_vscode(tmp_path, t, vsix, {"lockls.server.path": server[0], "lockls.server.args": server[1:]},
                     dict(os.environ), "vscode")
    assert_squiggle_problems_hover_fix(run)
    assert f"Starting lockls.server.path: {server[0]}" in run["output"], run["output"]


# --- the platform .vsix: the server bundled, nothing else installed ------------------------

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def vsix_target() -> str:
    targets = {"x86_64": "linux-x64", "amd64": "linux-x64", "aarch64": "linux-arm64", "arm64": "linux-arm64"}
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in targets:
        pytest.skip(f"the bundled-server test runs on Linux x86_64 or aarch64, not {sys.platform} {machine}")
    return targets[machine]


def sources_digest() -> str:
    """What the bundled .vsix is built from: the server, the extension, the build script."""
    h = hashlib.sha256()
    roots = [REPO / "server" / "lockls", REPO / "queries", EXT / "src", EXT / "tool", EXT / "images"]
    files = [REPO / "pyproject.toml", REPO / "scripts" / "build-release", EXT / "package.json",
             EXT / "package-lock.json", EXT / ".vscodeignore", EXT / "README.md", EXT / "CHANGELOG.md"]
    for root in roots:
        files += [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for p in sorted(files):
        h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def bundled_vsix(tmp_path_factory) -> Path:
    """lockls-VERSION-TARGET.vsix from `scripts/build-release --target TARGET` (wheel, the
    server and its dependencies for Python 3.10-3.14 from PyPI, vsce --target). Kept in
    build/test-vsix/ keyed on the sources: a second run with nothing changed reuses it."""
    tools()
    target = vsix_target()
    cache = REPO / "build" / "test-vsix"
    built = cache / sources_digest()
    found = sorted(built.glob(f"lockls-*-{target}.vsix"))
    if found:
        return found[0]
    out = tmp_path_factory.mktemp("build-release")  # per run: another may be building too
    proc = run_client(["bash", str(REPO / "scripts" / "build-release"), "--target", target, "--outdir", str(out)],
                      cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (vsix,) = out.glob(f"lockls-*-{target}.vsix")
    if cache.is_dir():
        for old in cache.iterdir():
            if old != built:
                shutil.rmtree(old, ignore_errors=True)  # built from older sources
    built.mkdir(parents=True, exist_ok=True)
    partial = built / f".{vsix.name}.{os.getpid()}"
    shutil.copy(vsix, partial)
    os.replace(partial, built / vsix.name)  # whole or not at all, for a run reading the cache
    return built / vsix.name


def system_python(path: str) -> str:
    """python3 on `path`: 3.10 or newer, and lockls not importable (it must come from the bundle)."""
    python = which("python3", *path.split(os.pathsep))
    if python is None:
        missing("python3 (3.10+) on the system PATH (apt-get install python3)")
    probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=30, env={"PATH": path})
    version = tuple(int(n) for n in probe.stdout.split("."))
    if version < (3, 10):
        missing(f"python3 3.10+ on the system PATH ({python} is {probe.stdout.strip()})")
    imported = subprocess.run([python, "-c", "import lockls"], capture_output=True, text=True, timeout=30,
                              env={"PATH": path})
    assert imported.returncode != 0, f"{python} can import lockls: the test would not show the bundle works"
    return python


def test_vscode_platform_vsix_runs_its_bundled_server(tmp_path, bundled_vsix):
    """Only the platform .vsix is installed: no `lockls` on PATH, no venv, no setting; the
    extension runs the bundled server with the system's python3 and the squiggle appears."""
    t = tools()
    dirs = list(SYSTEM_PATH) + [str(Path(t["node"]).parent)]  # code-server runs on node
    path = os.pathsep.join(dict.fromkeys(dirs))
    assert which("lockls", *path.split(os.pathsep)) is None, f"lockls is on {path}"
    python = system_python(path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PYENV", "LOCKLS"))}
    env["PATH"] = path
    run = run_vscode(tmp_path, t, bundled_vsix, {}, env, "vscode-bundled")
    assert_squiggle_problems_hover_fix(run)
    started = re.search(r"Starting the bundled server with (\S+) \(Python 3\.\d+\.\d+, from PATH\): "
                        r"(\S+) -I (\S+)", run["output"])
    assert started, run["output"]
    assert started[1] == started[2] == python
    assert started[3].endswith("/bundled/tool/lsp_server.py") and str(tmp_path / "extensions") in started[3]


def test_bundled_launcher_on_each_python(tmp_path, bundled_vsix):
    """The bundle's launcher, unpacked from the .vsix: every Python 3.10+ found here runs the
    bundled `lockls --check` (3.10 needs the tomli backport the bundle carries); an older
    one answers the probe with why not."""
    with zipfile.ZipFile(bundled_vsix) as z:
        z.extractall(tmp_path)
    launcher = tmp_path / "extension" / "bundled" / "tool" / "lsp_server.py"
    manifest = json.loads((tmp_path / "extension" / "bundled" / "bundle.json").read_text())
    assert manifest["python"] == ["3.10", "3.11", "3.12", "3.13", "3.14"] and manifest["target"] == vsix_target()
    shutil.copy(LEAK_C, tmp_path / "leak.c")
    pythons = {p for p in [which("python3", *SYSTEM_PATH), sys.executable] if p}
    pythons |= {str(p) for p in Path.home().glob(".pyenv/versions/3.*/bin/python3")}
    checked, refused = [], []
    for python in sorted(pythons):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        probe = subprocess.run([python, "-I", str(launcher), "--probe"], capture_output=True, text=True,
                               timeout=60, env=env)
        answer = json.loads(probe.stdout)
        major, minor = (int(n) for n in answer["python"].split(".")[:2])
        if (major, minor) < (3, 10):
            assert answer == {"ok": False, "python": answer["python"], "executable": answer["executable"],
                              "reason": f"Python {major}.{minor} is older than 3.10"}
            refused.append(python)
            continue
        assert answer["ok"] is True, answer
        check = subprocess.run([python, "-I", str(launcher), "--check", "--no-cache", "leak.c"],
                               capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert check.returncode == 1, check.stderr
        assert check.stdout.splitlines()[0] == (
            "leak.c:11:9: warning: `&m` taken at line 8 is still held at this return (held: &m) [lock-leak]"), check.stdout
        checked.append(f"{major}.{minor}")
    assert checked, f"no Python 3.10+ among {sorted(pythons)}"
