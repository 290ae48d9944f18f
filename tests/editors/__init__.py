"""Shared helpers of the real-editor tests (tests/test_editors_*.py).

A missing client skips the test on a developer's machine and fails it in CI (CI=true):
`bash scripts/install-editor-test-deps.sh` installs every client.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
INSTALL_HINT = "install it with: bash scripts/install-editor-test-deps.sh"


def missing(what: str) -> None:
    """Skip (developer machine) or fail (CI) because `what` is not installed."""
    reason = f"{what} is not installed; {INSTALL_HINT}"
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def venv_bin() -> Path:
    return Path(sys.executable).parent


def lockls_command() -> list[str]:
    exe = venv_bin() / "lockls"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lockls"]


def which(name: str, *dirs: str | Path) -> str | None:
    if dirs:
        return shutil.which(name, path=os.pathsep.join(str(d) for d in dirs))
    return shutil.which(name)


def run_client(argv: list[str], *, timeout: float, env: dict | None = None,
               cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run an editor (and so the server it starts) in its own process group, killed
    whole when `timeout` expires."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env, cwd=cwd, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{argv[0]} timed out after {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        try:  # whatever the client left behind (a server that did not exit)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
