"""`[[guarded]]` data where real code puts it: which structs a field guard speaks
about (in the file and in a project's headers), and which calls set up or tear down
a lock. The fixtures in tests/fixtures/guarded_scopes/ show the findings."""

from __future__ import annotations

import textwrap

import pytest

from lockls.config import GuardedData, clear_config_cache, load_config
from lockls.lowering.guards import lock_lifecycle
from lockls.main import main
from lockls.syntax.declarations import unguarded_owners

COUNT = GuardedData(field="count", by="lock")


def test_structs_without_the_lock_of_a_field_guard():
    text = textwrap.dedent("""\
        struct queue { pthread_mutex_t lock; int count; };
        struct stats { int count; long bytes; };   /* lock: a comment is no field */
        typedef struct stats stats_t;
        typedef struct { int count; } tally_t, *tally_p;
        typedef struct __attribute__((packed)) wire { short count; } wire_t;
        struct nested { struct { pthread_mutex_t lock; } inner; int count; };
        union either { int count; char *name; };
        struct other { int total; };
        #if WIDE
        struct split { int count; pthread_mutex_t lock; };
        #else
        struct split { int count; };
        #endif
        """).encode()
    owners = {g.owner for g in unguarded_owners(text, (COUNT,))}
    assert owners == {"struct stats", "stats_t", "tally_t", "tally_p", "struct wire", "wire_t", "union either"}
    assert all(g.field == "count" and g.by == "" for g in unguarded_owners(text, (COUNT,)))
    # two guards on one name: a struct with either lock keeps the field guarded
    assert {g.owner for g in unguarded_owners(text, (COUNT, GuardedData(field="count", by="bytes")))} \
        == owners - {"struct stats", "stats_t"}
    # guards by the object itself, by a global lock, or of a known struct say nothing of the others
    for guard in (GuardedData(field="count", by="self"), GuardedData(field="count", by="=g_lock"),
                  GuardedData(field="count", by="lock", owner="struct queue")):
        assert unguarded_owners(text, (guard,)) == ()


@pytest.mark.parametrize("name", ["pthread_mutex_init", "pthread_mutex_destroy", "spin_lock_init", "mutex_init",
                                  "init_rwsem", "g_mutex_clear", "g_rec_mutex_init", "mtx_destroy",
                                  "virMutexInit", "qemu_mutex_destroy", "pthread_rwlock_init", "raw_spin_lock_init"])
def test_lock_initialisers_and_destroyers(name):
    assert lock_lifecycle(name)


@pytest.mark.parametrize("name", ["pthread_mutex_lock", "spin_unlock", "kfree", "list_init", "table_destroy",
                                  "g_mutex_locker_new", "blocked_init"])
def test_other_functions(name):
    assert not lock_lifecycle(name)


def test_configured_guards_are_marked(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[[guarded]]\nfield = "count"\nby = "lock"\n')
    (guard,) = load_config(str(path)).guarded
    assert guard.configured and not GuardedData(field="count", by="lock").configured


def test_a_struct_defined_in_a_header_without_the_lock(tmp_path, monkeypatch, capsys):
    """`struct stats` (and its typedef) is defined in a header without a `lock`: its
    `count` is not the guarded one in the file that uses it, with the project read."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".lockls.toml").write_text('presets = ["pthread"]\n\n[[guarded]]\nfield = "count"\nby = "lock"\n\n'
                                           '[entry-points]\nfunctions = ["*_handler"]\n')
    (tmp_path / "stats.h").write_text("struct stats { int count; };\ntypedef struct stats stats_t;\n")
    (tmp_path / "use.c").write_text(
        '#include <pthread.h>\n#include "stats.h"\nstruct queue { pthread_mutex_t lock; int count; };\n'
        "int count_handler(struct stats *s, stats_t *t, struct queue *q)\n{\n"
        "    s->count++;\n    t->count++;\n    return q->count;\n}\n")
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    clear_config_cache()
    assert main(["--check", "."]) == 1
    assert capsys.readouterr().out == (
        "use.c:8:12: warning: `q->count` is used but its lock `q->lock` is not held (held: none) [unguarded-access]\n")
    # alone, use.c cannot tell what `struct stats` holds
    assert main(["--check", "--no-project-context", "use.c"]) == 1
    assert [line.split(": ")[0] for line in capsys.readouterr().out.splitlines()] == ["use.c:6:5", "use.c:7:5",
                                                                                     "use.c:8:12"]
    clear_config_cache()
