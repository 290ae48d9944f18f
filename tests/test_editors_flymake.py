"""editors/emacs/lockls-flymake.el in real Emacs (batch mode): the buffer's unsaved text
is checked through `lockls check --stdin-filename FILE --format json`, and the finding
is a flymake diagnostic (line, column, type, text); a broken configuration is shown on
the first line; the backend survives eglot taking over the buffer's backends."""

from __future__ import annotations

import json

from editors import HERE, REPO, lockls_command, missing, run_client, which

CLEAN_ON_DISK = """\
#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int counter;

int bump(int fail)
{
    pthread_mutex_lock(&m);
    counter++;
    if (fail)
        counter--;
    pthread_mutex_unlock(&m);
    return 0;
}
"""


def test_flymake_backend_checks_the_unsaved_buffer(tmp_path):
    emacs = which("emacs")
    if emacs is None:
        missing("Emacs (apt-get install emacs-nox)")
    source = tmp_path / "proj" / "bump.c"
    source.parent.mkdir()
    source.write_text(CLEAN_ON_DISK)
    bad = tmp_path / "bad" / "x.c"
    bad.parent.mkdir()
    bad.write_text("int x;\n")
    (bad.parent / ".lockls.toml").write_text("[rules]\nlock-lek = \"error\"\n")
    out = tmp_path / "result.json"
    proc = run_client(
        [emacs, "--batch", "-Q", "-l", str(HERE / "emacs_flymake_test.el")],
        timeout=60,
        cwd=tmp_path,
        env={
            "HOME": str(tmp_path),
            "LOCKLS_CACHE_DIR": str(tmp_path / "cache"),
            "LOCKLS_PLUGIN": str(REPO / "editors" / "emacs"),
            "LOCKLS_CMD": json.dumps(lockls_command()),
            "LOCKLS_FILE": str(source),
            "LOCKLS_BAD_FILE": str(bad),
            "LOCKLS_OUT": str(out),
        },
    )
    assert out.exists(), f"emacs wrote no result (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())
    assert result["ok"] is True, f"{result.get('error')}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, proc.stderr

    assert result["diagnostics"] == [{
        "line": 11, "column": 8, "end_column": 18, "type": ":warning",
        "text": "lockls [lock-leak]: `&m` taken at line 8 is still held at this return (held: &m)",
    }]
    assert result["modified"] is True and source.read_text() == CLEAN_ON_DISK  # never saved
    assert "lockls-flymake" in result["backends"]
    assert result["backends_after_eglot"] == ["lockls-flymake", "eglot-flymake-backend"]

    [config_error] = result["bad_config"]
    assert (config_error["line"], config_error["column"], config_error["type"]) == (1, 0, ":error")
    assert config_error["text"].startswith("lockls: ") and ".lockls.toml:2" in config_error["text"], config_error
    assert "lock-lek" in config_error["text"]
