"""`lockls init`: the starting `.lockls.toml` written from a project's C files
(presets, lock wrappers, annotation macros), that it loads and `--check` runs with
it, and that an existing configuration is kept unless `--force`."""

from __future__ import annotations

import io
import textwrap

import pytest

import lockls.cli.init as init_module
from lockls.cli.init import run_init
from lockls.config import clear_config_cache, load_config
from lockls.main import main


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def init(path: str, force: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_init(path, force, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    clear_config_cache()
    yield
    clear_config_cache()


def small_project(root) -> None:
    (root / ".git").mkdir(parents=True)
    write(root / ".gitignore", "build/\n")
    write(root / "include" / "queue.h", """
        #define GUARDED_BY(x) __attribute__((guarded_by(x)))
        #define REQUIRES(...) \\
            __attribute__((requires_capability(__VA_ARGS__)))
        struct queue;
        void queue_lock(struct queue *q);
        void queue_unlock(struct queue *q);
        void flush_all(void) OVS_REQUIRES(big_lock);
        void drain(struct queue *q) PROJ_MUST_HOLD(q->lock);
        """)
    write(root / "src" / "queue.c", """
        #include <pthread.h>
        #include <glib.h>
        #include "queue.h"
        struct queue { pthread_mutex_t lock; GMutex gm; int n; };
        void queue_lock(struct queue *q)
        {
            pthread_mutex_lock(&q->lock);
        }
        void queue_unlock(struct queue *q)
        {
            pthread_mutex_unlock(&q->lock);
        }
        struct queue *queue_get_locked(struct queue *q)
        {
            pthread_mutex_lock(&q->lock);
            return q;
        }
        static void stats_lock(struct queue *q) { g_mutex_lock(&q->gm); }
        static void stats_unlock(struct queue *q) { g_mutex_unlock(&q->gm); }
        /* pthread_spin_lock(&q->spin) in a comment is no call */
        int queue_pop(struct queue *q)
        {
            queue_lock(q);
            if (q->n == 0) {
                queue_unlock(q);
                return -1;
            }
            q->n--;
            queue_unlock(q);
            stats_lock(q);
            stats_unlock(q);
            return 0;
        }
        int queue_peek(struct queue *q)
        {
            return queue_get_locked(q)->n;
        }
        """)
    # ignored by git: its C11 calls do not make the c11 preset
    write(root / "build" / "gen.c", "void g(mtx_t *m) { mtx_lock(m); mtx_unlock(m); }\n")


EXPECTED_WRAPPERS = """\
# The project's lock wrappers. lockls recognises them from their bodies, without an entry;
# uncomment one to state it here (an entry wins over what the body says):

# queue_lock (src/queue.c:5; 1 call): acquire arg0->lock
# [functions.queue_lock]
# acquire = "arg0->lock"
# kind = "pthread_mutex"

# queue_unlock (src/queue.c:9; 2 calls): release arg0->lock
# [functions.queue_unlock]
# release = "arg0->lock"
# kind = "pthread_mutex"

# These return holding a lock on every path, but nothing says they are meant to (no caller
# releases it, no release function pairs with them), so lockls does not count them as lock
# functions. If they are, uncomment their entry:

# queue_get_locked (src/queue.c:13; 1 call): acquire arg0->lock
# [functions.queue_get_locked]
# acquire = "arg0->lock"
# kind = "pthread_mutex"

# Static lock wrappers, recognised in their own file (an entry here would apply to every
# file): stats_lock, stats_unlock

# Annotations in the source, recognised without configuration:
#   GUARDED_BY (include/queue.h:1): guarded_by
#   REQUIRES (include/queue.h:2): requires_capability

# Annotation macros used but not defined in this tree: what they mean.
# Open vSwitch's (lib/compiler.h):
[annotations]
OVS_REQUIRES = "requires"
# guessed from their names; uncomment those that are right:
# PROJ_MUST_HOLD = "requires"
"""


def test_init_writes_presets_wrappers_and_annotations(tmp_path, monkeypatch, capsys):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    status, out, err = init(".")
    assert (status, err) == (0, "")
    assert out == (
        "Wrote .lockls.toml (from 2 C files):\n"
        "  presets: glib, pthread\n"
        "  lock wrappers recognised: queue_lock, queue_unlock, stats_lock, stats_unlock\n"
        "  lock functions to confirm (commented out): queue_get_locked\n"
        "  annotation macros mapped: OVS_REQUIRES\n"
        "Next: run `lockls check`, and read .lockls.toml: each setting is explained there.\n")
    text = (tmp_path / ".lockls.toml").read_text()
    assert text.startswith("# lockls configuration, written by `lockls init` from 2 C files of this directory.\n")
    assert (
        "# The lock APIs the code calls (a preset teaches lockls their functions):\n"
        "#   glib: g_mutex_lock (1 call), g_mutex_unlock (1 call)\n"
        "#   pthread: pthread_mutex_lock (2 calls), pthread_mutex_unlock (1 call)\n"
        "# Not used: c11, libvirt, linux, qemu. Add one if the code calls its functions through headers "
        "outside this tree.\n"
        'presets = ["glib", "pthread"]\n') in text
    assert text.endswith(EXPECTED_WRAPPERS)
    config = load_config(str(tmp_path / ".lockls.toml"))  # it loads
    assert config.presets == ("glib", "pthread")
    assert config.annotations == {"OVS_REQUIRES": "requires"}
    # and --check runs with it (the leak-free project has no finding)
    assert main(["--check", "--jobs", "1", "."]) == 0


def test_every_commented_line_loads_when_uncommented(tmp_path):
    small_project(tmp_path)
    assert init(str(tmp_path))[0] == 0
    text = (tmp_path / ".lockls.toml").read_text()
    # uncomment the settings (not the prose): the suggested entries are valid too
    lines = [line[2:] if line.startswith(("# [", '# "', "# presets", "# ignore", "# severity", "# include",
                                           "# exclude", "# functions =", "# tables", "# acquire =", "# release =",
                                           "# kind =", "# PROJ_"))
             else line for line in text.splitlines()]
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines) + "\n")
    config = load_config(str(path))
    assert config.functions["queue_get_locked"].origin == str(path)
    assert config.annotations["PROJ_MUST_HOLD"] == "requires"


def test_init_in_another_directory_names_it_in_the_next_step(tmp_path, monkeypatch):
    small_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    status, out, _ = init("proj")
    assert status == 0
    assert out.splitlines()[0] == "Wrote proj/.lockls.toml (from 2 C files):"
    assert out.splitlines()[-1] == "Next: run `lockls check proj`, and read proj/.lockls.toml: each setting is explained there."


def test_init_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.c", "void f(pthread_mutex_t *m) { pthread_mutex_lock(m); pthread_mutex_unlock(m); }\n")
    (tmp_path / ".lockls.toml").write_text("# mine\n")
    assert init(".") == (2, "", "lockls: error: .lockls.toml exists already; `lockls init --force` replaces it\n")
    assert (tmp_path / ".lockls.toml").read_text() == "# mine\n"
    status, out, _ = init(".", force=True)
    assert status == 0 and out.startswith("Wrote .lockls.toml (from 1 C file):\n")
    assert 'presets = ["pthread"]\n' in (tmp_path / ".lockls.toml").read_text()


def test_init_refuses_to_shadow_a_lockls_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lockls.toml").write_text("# mine\n")
    assert init(".") == (2, "", "lockls: error: lockls.toml exists already; `lockls init --force` replaces it\n")
    assert init(".", force=True)[0] == 0
    assert not (tmp_path / ".lockls.toml").exists()  # --force replaced the file in use, not shadowed it
    assert "presets = [" in (tmp_path / "lockls.toml").read_text()


def test_init_through_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".lockls.toml").write_text("# mine\n")
    assert main(["init"]) == 2
    assert capsys.readouterr().err == "lockls: error: .lockls.toml exists already; `lockls init --force` replaces it\n"
    assert main(["init", "--force", "."]) == 0
    assert capsys.readouterr().out.startswith("Wrote .lockls.toml (from 0 C files):\n")


def test_init_without_lock_calls_keeps_every_preset(tmp_path):
    write(tmp_path / "a.c", "int add(int a, int b) { return a + b; }\n")
    status, out, _ = init(str(tmp_path))
    assert status == 0 and "  presets: all (no known lock API called)\n" in out
    text = (tmp_path / ".lockls.toml").read_text()
    assert ("# No call of a known lock API (pthread, C11, Linux, GLib, QEMU, libvirt) was found: every\n"
            "# preset stays on. To choose, uncomment and keep those the code uses:\n"
            '# presets = ["c11", "glib", "libvirt", "linux", "pthread", "qemu"]\n') in text
    assert load_config(str(tmp_path / ".lockls.toml")).presets == ("c11", "glib", "libvirt", "linux", "pthread", "qemu")


def test_a_project_defining_a_preset_name_does_not_get_the_preset(tmp_path):
    write(tmp_path / "m.c", """
        struct mutex { int held; };
        void mutex_lock(struct mutex *m) { m->held = 1; }
        void use(struct mutex *m) { mutex_lock(m); spin_lock(&m->held); }
        """)
    assert init(str(tmp_path))[0] == 0
    text = (tmp_path / ".lockls.toml").read_text()
    assert "#   linux: spin_lock (1 call)\n" in text  # its own mutex_lock is not the kernel's


def test_the_scan_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(init_module, "MAX_FILES", 2)
    write(tmp_path / "a.c", "void a(pthread_mutex_t *m) { pthread_mutex_lock(m); pthread_mutex_unlock(m); }\n")
    write(tmp_path / "b.c", "void b(void) { }\n")
    write(tmp_path / "c.c", "void c(mtx_t *m) { mtx_lock(m); mtx_unlock(m); }\n")
    status, out, _ = init(str(tmp_path))
    assert status == 0
    assert out.splitlines()[:2] == [f"Wrote {tmp_path / '.lockls.toml'} (from the first 2 C files):",
                                    "  presets: pthread"]
    assert (tmp_path / ".lockls.toml").read_text().startswith(
        "# lockls configuration, written by `lockls init` from the first 2 C files of this directory.\n")


def test_init_needs_a_directory(tmp_path):
    write(tmp_path / "a.c", "")
    assert init(str(tmp_path / "a.c")) == (2, "", f"lockls: error: {tmp_path / 'a.c'}: not a directory\n")
