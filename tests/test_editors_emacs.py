"""editors/emacs/lockls.el in real Emacs (batch mode) with eglot: diagnostics through
flymake (rule and line), hover, the lock-leak quick-fix."""

from __future__ import annotations

import json

from editors import HERE, REPO, lockls_command, missing, run_client, which

LEAK_C = HERE / "leak.c"
HOVER_LINE = 8  # 0-based: `counter++;`
LEAK_LINE = 10  # 0-based: `return -1;`


def find_emacs() -> str:
    emacs = which("emacs")
    if emacs is None:
        missing("Emacs (apt-get install emacs-nox)")
    probe = run_client([emacs, "--batch", "-Q", "--eval",
                        "(progn (require 'package)"
                        " (add-to-list 'package-directory-list \"/usr/share/emacs/site-lisp/elpa\")"
                        " (package-initialize) (princ (if (require 'eglot nil t) \"yes\" \"no\")))"],
                       timeout=20)
    if "yes" not in probe.stdout:
        missing("eglot for Emacs (apt-get install elpa-eglot)")
    return emacs


def test_emacs_eglot_flymake_hover_code_action(tmp_path):
    emacs = find_emacs()
    out = tmp_path / "result.json"
    proc = run_client(
        [emacs, "--batch", "-Q", "-l", str(HERE / "emacs_test.el")],
        timeout=40,
        cwd=tmp_path,
        env={
            "HOME": str(tmp_path),
            "LOCKLS_PLUGIN": str(REPO / "editors" / "emacs"),
            "LOCKLS_CMD": json.dumps(lockls_command()),
            "LOCKLS_FILE": str(LEAK_C),
            "LOCKLS_OUT": str(out),
            "LOCKLS_HOVER_LINE": str(HOVER_LINE),
        },
    )
    assert out.exists(), f"emacs wrote no result (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())
    assert result["ok"] is True, f"{result.get('error')}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, proc.stderr
    assert result["major_mode"] == "c-mode"
    assert result["server_name"] == "lockls"

    diags = result["diagnostics"]
    assert [(d["code"], d["line"], d["type"]) for d in diags] == [("lock-leak", LEAK_LINE, "eglot-warning")]
    assert diags[0]["text"].startswith("lockls [lock-leak]: `&m` taken at line 8")

    assert "Locks held here" in result["hover"] and "for sure: `&m`" in result["hover"]
    assert "Release `&m` with `pthread_mutex_unlock` before this return" in result["code_actions"]
