"""The pre-commit hook under the real `pre-commit` tool: a sample project whose
.pre-commit-config.yaml points at a git copy of this repository's working tree, with one C
file that leaks a lock and one that does not; `pre-commit run --all-files` installs lockls
into its own venv (from that copy, its dependencies from PyPI) and must fail naming the
leak, then pass once the leak is fixed. Also pre-commit's own validation of
.pre-commit-hooks.yaml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Not needed to build or install the package (pyproject.toml packages server/ and queries/).
NOT_COPIED = {"tests", "vscode-extension", "docs", "bench", "editors", "examples"}
# A guard against a hung install, not a speed requirement.
TIMEOUT = 600

LEAKY_C = """\
#include <pthread.h>

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;

int bump(int limit)
{
    pthread_mutex_lock(&counter_lock);
    if (counter >= limit)
        return -1;
    counter++;
    pthread_mutex_unlock(&counter_lock);
    return 0;
}
"""
FIXED_C = LEAKY_C.replace(
    "        return -1;\n",
    "    {\n        pthread_mutex_unlock(&counter_lock);\n        return -1;\n    }\n",
)
CLEAN_C = """\
#include <pthread.h>

static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

void add(long n)
{
    pthread_mutex_lock(&total_lock);
    total += n;
    pthread_mutex_unlock(&total_lock);
}
"""
LEAK_FINDING = (
    "src/counter.c:10:9: warning: `&counter_lock` taken at line 8 is still held at this return"
    " (held: &counter_lock) [lock-leak]"
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # No user or system git configuration (signing, hooks, templates) in the way.
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.update(
        GIT_AUTHOR_NAME="lockls tests",
        GIT_AUTHOR_EMAIL="tests@lockls.invalid",
        GIT_COMMITTER_NAME="lockls tests",
        GIT_COMMITTER_EMAIL="tests@lockls.invalid",
    )
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")  # the hook's venv lives here
    env["LOCKLS_CACHE_DIR"] = str(tmp_path / "lockls-cache")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )


def _hook_repo(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A git repository holding this repository's working tree (tracked and untracked,
    not ignored files), committed, so the hook runs today's code; and its commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout
    dest = tmp_path / "lockls-hook"
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = REPO / name
        if name.split("/", 1)[0] in NOT_COPIED or not source.is_file():
            continue  # skipped, or deleted in the working tree
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "working tree of lockls")
    return dest, _git(dest, env, "rev-parse", "HEAD").strip()


def _status_line(output: str) -> str:
    lines = [line for line in output.splitlines() if re.match(r"lockls\.+", line)]
    assert len(lines) == 1, output
    return lines[0]


def test_hook_fails_on_a_leak_and_passes_once_fixed(tmp_path):
    env = _env(tmp_path)
    hook_repo, commit = _hook_repo(tmp_path, env)

    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo.as_posix()}\n"
        f"    rev: {commit}\n"
        "    hooks:\n"
        "      - id: lockls\n"
    )
    (project / "src" / "counter.c").write_text(LEAKY_C)
    (project / "src" / "total.c").write_text(CLEAN_C)
    (project / "README.md").write_text("not C: the hook must not be given this file\n")
    _git(project, env, "init", "-q")
    _git(project, env, "add", "-A")

    failed = _pre_commit(project, env, "run", "--all-files", "--color", "never")
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert re.fullmatch(r"lockls\.+Failed", _status_line(output)), output
    assert "- hook id: lockls" in output
    assert "- exit code: 1" in output
    findings = [line for line in output.splitlines() if re.search(r": (error|warning|note): ", line)]
    assert findings == [LEAK_FINDING], output
    assert "total.c" not in output
    # lockls's summary: both C files were passed and analysed, README.md was not.
    assert "lockls: 2 files, 2 functions, 1 finding (1 warning)" in output, output

    (project / "src" / "counter.c").write_text(FIXED_C)
    _git(project, env, "add", "-A")
    passed = _pre_commit(project, env, "run", "--all-files", "--color", "never")
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert re.fullmatch(r"lockls\.+Passed", _status_line(output)), output
    assert "[lock-leak]" not in output


def test_hooks_manifest_passes_pre_commits_validation(tmp_path):
    env = _env(tmp_path)
    valid = _pre_commit(REPO, env, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml"))
    assert (valid.returncode, valid.stdout + valid.stderr) == (0, "")

    # The validation is not vacuous: the same manifest with a misspelled language fails.
    broken = tmp_path / "broken-hooks.yaml"
    broken.write_text((REPO / ".pre-commit-hooks.yaml").read_text().replace("language: python", "language: pyhton"))
    invalid = _pre_commit(tmp_path, env, "validate-manifest", str(broken))
    assert invalid.returncode == 1
    assert "pyhton" in invalid.stdout + invalid.stderr
