"""Configuration conveniences: `extends` (merging, paths relative to the file that
wrote them, cycles, missing files, errors in the extended file, fingerprints),
`[per-file-ignores]` (validation, `--check`, the language server) and errors named
relative to the current directory."""

from __future__ import annotations

import os
import textwrap

import pytest

from lockls.catalogue import RULES
from lockls.config import (ConfigError, LockFunction, clear_config_cache, config_for, config_from_text,
                           load_config, show_config)
from lockls.config.load import MAX_EXTENDS_DEPTH
from lockls.lsp.session import Session
from lockls.main import main

RULE_NAMES = ", ".join(RULES)


def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def errors_of(path: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{os.path.relpath(e.path, os.path.dirname(path))}:{e.line}: {e.key}: {e.message}"
            for e in caught.value.errors]


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_config_cache()
    yield
    clear_config_cache()


BASE = """
presets = ["pthread", "c11"]
lock-order = ["outer", "inner"]

[rules]
select = ["lock-leak", "double-lock", "unlock-unheld"]
ignore = ["unlock-unheld"]
severity = { lock-leak = "error", double-lock = "warning" }

[files]
include = ["src/**"]
exclude = ["*.gen.c"]

[functions.q_lock]
acquire = "arg0"

[functions.q_unlock]
release = "arg0"

[kinds.rec]
recursive = true

[classes.outer]
match = ["*->outer"]

[classes.inner]
match = ["*->inner"]

[[locks]]
match = "*->a"
kind = "rec"

[[guarded]]
field = "count"
by = "lock"

[entry-points]
functions = ["*_ioctl"]

[annotations]
MY_REQUIRES = "requires"

[limits]
function-steps = 1000
"""


def test_a_file_is_laid_over_the_file_it_extends(tmp_path):
    write(tmp_path / "base.toml", BASE)
    child = write(tmp_path / ".lockls.toml", """
        extends = "base.toml"
        presets = ["pthread"]

        [rules]
        extend-select = ["unlock-unheld"]
        ignore = ["double-lock"]
        severity = { lock-leak = "info" }

        [files]
        exclude = ["vendor"]

        [functions.q_lock]
        try-acquire = "arg0"
        success = "zero"

        [kinds.rec]
        recursive = false

        [[locks]]
        match = "*->a"
        recursive = true

        [[guarded]]
        variable = "total"
        by = "total_lock"

        [entry-points]
        functions = ["on_event"]

        [annotations]
        MY_EXCLUDES = "excludes"
        """)
    config = load_config(child)
    base = os.path.join(str(tmp_path), "base.toml")
    assert config.bases == (base,)
    # scalars and plain lists: replaced
    assert config.presets == ("pthread",)
    assert config.lock_order == ("outer", "inner")  # not written here: the base's
    assert config.max_function_steps == 1000
    assert config.include == ("src/**",)
    # rules: the base's selection, then this file's extend-select and ignore
    assert config.select == frozenset({"lock-leak", "unlock-unheld"})
    assert (config.severity("lock-leak"), config.severity("double-lock")) == ("info", "warning")
    # exclude, [[guarded]], [entry-points] lists: added
    assert config.exclude == ("*.gen.c", "vendor")
    assert [(g.field, g.variable) for g in config.guarded] == [("count", None), (None, "total")]
    assert [g.origin for g in config.guarded] == [base, child]
    assert config.entry_points == ("*_ioctl", "on_event")
    # [[locks]]: this file's first (the first match wins)
    assert [(p.kind, p.recursive) for p in config.locks] == [(None, True), ("rec", None)]
    # named entries: replaced whole, by name
    assert config.functions["q_lock"] == LockFunction(name="q_lock", action="try-acquire", lock="arg0",
                                                      success="zero")
    assert config.functions["q_lock"].origin == child
    assert config.functions["q_unlock"].origin == base
    assert config.kinds["rec"].recursive is False
    assert sorted(config.classes) == ["inner", "outer"]
    assert config.annotations == {"MY_REQUIRES": "requires", "MY_EXCLUDES": "excludes"}


def test_select_in_the_extending_file_starts_afresh(tmp_path):
    write(tmp_path / "base.toml", '[rules]\nignore = ["lock-leak", "double-lock"]\n')
    child = write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n[rules]\nselect = ["lock-leak"]\n')
    assert load_config(child).select == frozenset({"lock-leak"})
    inheriting = write(tmp_path / "other.toml", 'extends = "base.toml"\n')
    assert load_config(inheriting).select == frozenset(RULES) - {"lock-leak", "double-lock"}


def test_several_extended_files_later_ones_win(tmp_path):
    write(tmp_path / "a.toml", 'presets = ["c11"]\n[rules.severity]\nlock-leak = "error"\n')
    write(tmp_path / "b.toml", 'presets = ["glib"]\n')
    child = write(tmp_path / ".lockls.toml", 'extends = ["a.toml", "b.toml"]\n')
    config = load_config(child)
    assert config.presets == ("glib",)
    assert config.severity("lock-leak") == "error"
    assert config.bases == (str(tmp_path / "a.toml"), str(tmp_path / "b.toml"))


def test_a_file_extended_twice_is_read_once(tmp_path):
    write(tmp_path / "d.toml", 'presets = ["c11"]\n')
    write(tmp_path / "b.toml", 'extends = "d.toml"\npresets = ["glib"]\n')
    write(tmp_path / "c.toml", 'extends = "d.toml"\n')
    config = load_config(write(tmp_path / ".lockls.toml", 'extends = ["b.toml", "c.toml"]\n'))
    assert config.presets == ("glib",)  # d's came first, b's over it; c says nothing of presets
    assert config.bases == tuple(str(tmp_path / n) for n in ("d.toml", "b.toml", "c.toml"))


# ------------------------------------------------------------------ paths


def test_globs_of_an_extended_file_stay_relative_to_it(tmp_path):
    write(tmp_path / ".lockls.toml", """
        [files]
        exclude = ["*.gen.c", "/sub/vendor"]

        [functions.q_lock]
        acquire = "arg0"
        paths = ["sub/net/**"]

        [[guarded]]
        field = "count"
        by = "lock"
        paths = ["other/**"]

        [per-file-ignores]
        "sub/tests/**" = ["lock-leak"]
        """)
    child = write(tmp_path / "sub" / ".lockls.toml", 'extends = "../.lockls.toml"\n[files]\ninclude = ["net", "tests"]\n')
    config = load_config(child)
    assert config.exclude == ("../**/*.gen.c", "/vendor")
    assert config.functions["q_lock"].paths == ("/net/**",)
    assert config.guarded[0].paths == ("../other/**",)
    assert config.per_file_ignores == (("/tests/**", ("lock-leak",)),)
    sub = tmp_path / "sub"
    assert config.is_included(str(sub / "net" / "a.c"))
    assert not config.is_included(str(sub / "net" / "a.gen.c"))
    assert not config.is_included(str(sub / "vendor" / "v.c"))
    assert not config.is_included(str(sub / "lib" / "l.c"))  # not in this file's include
    assert "q_lock" in config.for_file(str(sub / "net" / "a.c")).functions
    assert config.for_file(str(sub / "tests" / "t.c")).functions.get("q_lock") is None
    assert config.ignored_rules(str(sub / "tests" / "t.c")) == frozenset({"lock-leak"})
    assert config.ignored_rules(str(sub / "net" / "a.c")) == frozenset()
    # a guard of the extended file's other directory: a file there (with --config) gets it
    assert len(config.for_file(str(tmp_path / "other" / "o.c")).guarded) == 1
    assert config.for_file(str(sub / "net" / "a.c")).guarded == ()


def test_globs_of_an_extended_file_below(tmp_path):
    write(tmp_path / "shared" / "base.toml", """
        [files]
        exclude = ["gen", "/local.c"]

        [entry-points]
        functions = ["*_ioctl"]
        paths = ["drivers/**"]
        """)
    config = load_config(write(tmp_path / ".lockls.toml", 'extends = "shared/base.toml"\n'))
    assert config.exclude == ("/shared/**/gen", "/shared/local.c")
    assert config.entry_paths == ("/shared/drivers/**",)
    assert not config.is_included(str(tmp_path / "shared" / "x" / "gen" / "g.c"))
    assert config.is_included(str(tmp_path / "gen" / "g.c"))
    assert config.is_included(str(tmp_path / "local.c"))
    assert config.for_file(str(tmp_path / "shared" / "drivers" / "d.c")).entry_points == ("*_ioctl",)
    assert config.for_file(str(tmp_path / "drivers" / "d.c")).entry_points == ()


def test_a_glob_may_name_the_directory_above(tmp_path):
    config = load_config(write(tmp_path / "sub" / ".lockls.toml", '[files]\ninclude = ["../common/**", "src"]\n'))
    assert config.is_included(str(tmp_path / "common" / "c.c"))
    assert config.is_included(str(tmp_path / "sub" / "src" / "s.c"))
    assert not config.is_included(str(tmp_path / "elsewhere" / "e.c"))


def test_entry_points_of_several_files_must_share_their_paths(tmp_path):
    write(tmp_path / "base.toml", '[entry-points]\nfunctions = ["*_ioctl"]\npaths = ["drivers/**"]\n')
    child = write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n\n[entry-points]\nfunctions = ["on_event"]\n')
    assert errors_of(child) == [
        ".lockls.toml:3: entry-points: the [entry-points] of base.toml apply to other files; files that extend "
        "one another must give their [entry-points] the same paths"]


def test_show_config_spells_out_the_merged_configuration(tmp_path):
    write(tmp_path / ".lockls.toml", """
        [files]
        exclude = ["*.gen.c"]

        [functions.q_lock]
        acquire = "arg0"
        paths = ["lib/**"]

        [per-file-ignores]
        "tests/**" = ["lock-leak", "double-lock"]
        """)
    child = write(tmp_path / "sub" / ".lockls.toml", 'extends = "../.lockls.toml"\n')
    config = load_config(child)
    text = show_config(config)
    assert f"# Extends {tmp_path / '.lockls.toml'} (merged in below).\n" in text
    assert '[per-file-ignores]\n"../tests/**" = ["lock-leak", "double-lock"]\n' in text
    assert 'exclude = ["../**/*.gen.c"]' in text
    again = config_from_text(text, child)
    assert again.fingerprint() == config.fingerprint()
    assert (again.exclude, again.per_file_ignores, again.bases) == (config.exclude, config.per_file_ignores, ())


# ------------------------------------------------------------------ errors


def test_a_cycle_is_an_error(tmp_path):
    write(tmp_path / "a.toml", '# a\nextends = "b.toml"\n')
    write(tmp_path / "b.toml", 'presets = ["pthread"]\nextends = ["c.toml", "a.toml"]\n')
    write(tmp_path / "c.toml", "")
    a, b = str(tmp_path / "a.toml"), str(tmp_path / "b.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(a)
    (error,) = caught.value.errors
    assert (error.path, error.line, error.key) == (b, 2, "extends")
    assert error.message == '"a.toml" makes a cycle: a.toml -> b.toml -> a.toml'


def test_a_file_extending_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / ".lockls.toml", 'extends = "./.lockls.toml"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == '.lockls.toml:1: extends: "./.lockls.toml" makes a cycle: .lockls.toml -> .lockls.toml'


def test_a_missing_extended_file_is_an_error_at_its_line(tmp_path):
    child = write(tmp_path / ".lockls.toml", 'presets = ["pthread"]\nextends = ["base.toml", "../nope.toml"]\n')
    write(tmp_path / "base.toml", "")
    assert errors_of(child) == [
        '.lockls.toml:2: extends: cannot read "../nope.toml": No such file or directory']


def test_extends_is_bounded_in_depth(tmp_path):
    for n in range(MAX_EXTENDS_DEPTH + 2):
        write(tmp_path / f"c{n}.toml", f'extends = "c{n + 1}.toml"\n')
    write(tmp_path / f"c{MAX_EXTENDS_DEPTH + 2}.toml", "")
    assert errors_of(str(tmp_path / "c0.toml")) == [
        f'c{MAX_EXTENDS_DEPTH - 1}.toml:1: extends: "c{MAX_EXTENDS_DEPTH}.toml": more than {MAX_EXTENDS_DEPTH} '
        "files extend one another in a row"]


def test_extends_must_be_paths(tmp_path):
    assert errors_of(write(tmp_path / ".lockls.toml", "extends = 3\n")) == [
        '.lockls.toml:1: extends: expected the path of a configuration file like "../.lockls.toml", or a list '
        "of them, got integer"]


def test_errors_in_the_extended_file_name_it_and_its_lines(tmp_path):
    write(tmp_path / "base.toml", """
        # shared settings

        [functions.q_lock]
        acquire = "arg0"
        kind = "mutx"

        [rules]
        select = ["lok-leak"]
        """)
    child = write(tmp_path / ".lockls.toml", """
        extends = "base.toml"

        [functions.q_unlock]
        relase = "arg0"
        """)
    assert errors_of(child) == [
        ".lockls.toml:4: functions.q_unlock.relase: unknown key; did you mean `release`? expected one of acquire, "
        "acquire-shared, release, try-acquire, try-acquire-shared, tests-held, tests-not-held, kind, success, "
        "failure, scope, unheld-ok, may-sleep, requires, excludes, when, actions, by-arg, cases, paths, clears",
        f'base.toml:5: functions.q_lock.kind: unknown kind "mutx"; define it under [kinds.mutx] or use one of '
        f"{', '.join(sorted(load_config(write(tmp_path / 'k.toml', '')).kinds))}",
        f'base.toml:8: rules.select: unknown rule "lok-leak"; expected one of {RULE_NAMES}',
    ]


def test_a_syntax_error_in_the_extended_file(tmp_path):
    write(tmp_path / "base.toml", 'presets = ["pthread"]\n[rules\n')
    assert errors_of(write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n')) == [
        "base.toml:2: : invalid TOML: Expected ']' at the end of a table declaration (column 7)"]


def test_an_entry_may_use_what_the_extended_file_declares(tmp_path):
    write(tmp_path / "base.toml", '[kinds.rec]\nrecursive = true\n[classes.driver]\ntypes = ["struct driver"]\n')
    config = load_config(write(tmp_path / ".lockls.toml", """
        extends = "base.toml"
        lock-order = ["driver"]

        [functions.d_lock]
        acquire = "arg0"
        kind = "rec"
        excludes = ["class:driver"]
        """))
    assert config.functions["d_lock"].kind == "rec"


def test_the_fingerprint_follows_the_extended_file(tmp_path):
    base = tmp_path / "base.toml"
    write(base, '[functions.q_lock]\nacquire = "arg0"\n')
    write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n')
    source = str(tmp_path / "a.c")
    before = config_for(source)
    assert config_for(source) is before  # cached while nothing changes
    write(base, '[functions.q_lock]\nacquire = "arg1"\n')
    os.utime(base, ns=(1_000_000_000, 1_000_000_000))  # (a different stamp whatever the clock's resolution)
    after = config_for(source)
    assert after.functions["q_lock"].lock == "arg1"
    assert after.fingerprint() != before.fingerprint()


def test_an_extended_file_appearing_later_is_read(tmp_path):
    write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n')
    source = str(tmp_path / "a.c")
    with pytest.raises(ConfigError):
        config_for(source)
    write(tmp_path / "base.toml", 'presets = ["c11"]\n')
    assert config_for(source).presets == ("c11",)


# ------------------------------------------------------------------ per-file-ignores


def test_per_file_ignores_unknown_rule_names_the_nearest(tmp_path):
    path = write(tmp_path / ".lockls.toml", '[per-file-ignores]\n"tests/**" = ["lock-leak", "dubble-lock"]\n'
                                            '"" = ["lock-leak"]\n')
    assert errors_of(path) == [
        f'.lockls.toml:2: per-file-ignores."tests/**": unknown rule "dubble-lock"; did you mean `double-lock`? '
        f"expected one of {RULE_NAMES}",
        '.lockls.toml:3: per-file-ignores."": expected a glob of files like "tests/**", got ""',
    ]


def test_a_top_level_key_after_per_file_ignores(tmp_path):
    path = write(tmp_path / ".lockls.toml", '[per-file-ignores]\n"tests/**" = ["lock-leak"]\npresets = ["c11"]\n')
    assert errors_of(path) == [
        ".lockls.toml:3: per-file-ignores.presets: `presets` belongs at the top level; move it above the "
        "first `[table]`"]


LEAK = """\
#include <pthread.h>
int take(pthread_mutex_t *m, int bad)
{
    pthread_mutex_lock(m);
    if (bad)
        return -1;
    pthread_mutex_unlock(m);
    return 0;
}
"""


def leak_project(root) -> None:
    write(root / ".lockls.toml", '[per-file-ignores]\n"tests/**" = ["lock-leak"]\n"*_fuzz.c" = ["double-lock"]\n')
    write(root / "src" / "a.c", LEAK)
    write(root / "tests" / "t.c", LEAK)
    write(root / "src" / "b_fuzz.c", LEAK)


def test_per_file_ignores_in_check(tmp_path, monkeypatch, capsys):
    leak_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--check", "--jobs", "1", "."]) == 1
    out = capsys.readouterr().out
    message = "warning: `m` taken at line 4 is still held at this return (held: m) [lock-leak]"
    assert out == f"src/a.c:6:9: {message}\nsrc/b_fuzz.c:6:9: {message}\n"
    # a second run, from the cache, filters the same; --select does not bring them back
    assert main(["--check", "--jobs", "1", "--select", "lock-leak", "."]) == 1
    assert capsys.readouterr().out == out


def test_per_file_ignores_in_the_editor(tmp_path):
    leak_project(tmp_path)
    session = Session()
    seen = {}
    for name in ("src/a.c", "tests/t.c"):
        uri = (tmp_path / name).as_uri()
        session.open(uri, LEAK, 1, "c")
        _, diagnostics = session.diagnostics(uri)
        seen[name] = [(d.code, d.range.start.line) for d in diagnostics]
    assert seen == {"src/a.c": [("lock-leak", 5)], "tests/t.c": []}


def test_the_editor_sees_a_change_of_the_extended_file_at_the_next_edit(tmp_path):
    from lsprotocol import types as T

    base = tmp_path / "base.toml"
    write(base, "# nothing yet\n")
    write(tmp_path / ".lockls.toml", 'extends = "base.toml"\n')
    write(tmp_path / "tests" / "t.c", LEAK)
    session = Session()
    uri = (tmp_path / "tests" / "t.c").as_uri()
    session.open(uri, LEAK, 1, "c")
    assert [d.code for d in session.diagnostics(uri)[1]] == ["lock-leak"]
    write(base, '[per-file-ignores]\n"tests/**" = ["lock-leak"]\n')  # no watcher event for base.toml
    os.utime(base, ns=(1_000_000_000, 1_000_000_000))
    session.change(uri, 2, [T.TextDocumentContentChangePartial(
        range=T.Range(T.Position(8, 0), T.Position(8, 0)), text="\n")])
    assert session.diagnostics(uri)[1] == []


def test_the_editor_shows_an_extended_file_s_problems_on_it(tmp_path):
    write(tmp_path / "base.toml", '# shared\npresets = ["pthred"]\n')
    child = tmp_path / ".lockls.toml"
    write(child, 'extends = "base.toml"\n')
    write(tmp_path / "a.c", LEAK)
    session = Session()
    session.open((tmp_path / "a.c").as_uri(), LEAK, 1, "c")
    session.diagnostics((tmp_path / "a.c").as_uri())
    session.open(child.as_uri(), child.read_text(), 1, "toml")  # its buffer is checked as typed: no problem of its own
    problems = {uri: [(d.range.start.line, d.message) for d in diagnostics]
                for uri, diagnostics in session.config_diagnostics()}
    assert problems == {
        (tmp_path / "base.toml").as_uri(): [
            (1, 'presets: unknown preset "pthred"; expected one of c11, glib, libvirt, linux, pthread, qemu')],
        child.as_uri(): []}
    write(tmp_path / "base.toml", '# shared\npresets = ["pthread"]\n')  # fixed, with no watcher event
    os.utime(tmp_path / "base.toml", ns=(1_000_000_000, 1_000_000_000))
    session.open((tmp_path / "a.c").as_uri(), LEAK + "\n", 2, "c")
    session.diagnostics((tmp_path / "a.c").as_uri())
    assert [(uri, list(d)) for uri, d in session.config_diagnostics()] == [
        ((tmp_path / "base.toml").as_uri(), []), (child.as_uri(), [])]
    assert [uri for uri, _ in session.config_diagnostics()] == [child.as_uri()]  # (cleared once)


# ------------------------------------------------------------------ where errors are


def test_check_names_a_bad_configuration_relative_to_the_current_directory(tmp_path, monkeypatch, capsys):
    write(tmp_path / ".lockls.toml", 'extends = "conf/base.toml"\n')
    write(tmp_path / "conf" / "base.toml", '# shared\n[rules]\nselect = ["lok-leak"]\n')
    write(tmp_path / "src" / "a.c", LEAK)
    monkeypatch.chdir(tmp_path / "src")
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--check", "."]) == 2
    assert capsys.readouterr().err == (
        f"{tmp_path / 'conf' / 'base.toml'}:3: rules.select: unknown rule \"lok-leak\"; expected one of {RULE_NAMES}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--check", "src"]) == 2
    assert capsys.readouterr().err == (
        f"conf/base.toml:3: rules.select: unknown rule \"lok-leak\"; expected one of {RULE_NAMES}\n")
