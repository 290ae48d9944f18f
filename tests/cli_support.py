"""What the command-line tests share: running `lockls` in-process, and a project
directory as the working directory with a cache of its own."""

from __future__ import annotations

from pathlib import Path

from lockls.config import clear_config_cache
from lockls.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """`lockls ARGV` in-process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def enter_project(tmp_path: Path, monkeypatch, *subdirs: str) -> Path:
    """`tmp_path/proj` (with `subdirs`) as the working directory, a cache under
    `tmp_path`, and configuration discovery started afresh (call `clear_config_cache()`
    again when the test ends)."""
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    root.mkdir()
    for sub in subdirs:
        (root / sub).mkdir(parents=True)
    monkeypatch.chdir(root)
    clear_config_cache()
    return root
