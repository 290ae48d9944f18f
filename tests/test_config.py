"""Configuration: loading, validation messages with their lines, presets, discovery,
include/exclude, fingerprints, show-config round trip and reloading."""

from __future__ import annotations

import os
import pickle
import textwrap

import pytest

from lockls import config as config_module
from lockls.config import (
    ACTIONS,
    Config,
    ConfigError,
    LockFunction,
    LockKind,
    LockPattern,
    available_presets,
    clear_config_cache,
    config_for,
    config_from_text,
    default_config,
    find_config_file,
    glob_matches,
    load_config,
    show_config,
)
from lockls.rules import RULES

ALL_ACTIONS = ", ".join(ACTIONS)
FUNCTION_KEYS = "acquire, acquire-shared, release, try-acquire, try-acquire-shared, tests-held, tests-not-held, kind, success, failure, scope, unheld-ok, may-sleep, requires, excludes, when, actions, by-arg, cases, paths, clears"
RULE_NAMES = ", ".join(RULES)
LOCK_SPEC = 'expected a lock spec like "arg0", "arg0->lock", "return" or a global lock\'s name like "RCU"'


def write(directory, text: str, name: str = ".lockls.toml") -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def load_error(tmp_path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def assert_single_error(error: ConfigError, line: int, key: str, message: str) -> None:
    assert (error.line, error.key, error.message) == (line, key, message)
    assert str(error) == f"{error.path}:{line}: {key}: {message}"
    assert len(error.errors) == 1


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_config_cache()
    yield
    clear_config_cache()


# ------------------------------------------------------------------ error messages


def test_unknown_function_key_names_the_expected_keys(tmp_path):
    error = load_error(
        tmp_path,
        """
        # wrappers
        [functions.my_lock]
        aquire = "arg0"
        """,
    )
    assert_single_error(error, 3, "functions.my_lock.aquire", f"unknown key; did you mean `acquire`? expected one of {FUNCTION_KEYS}")


def test_bad_severity_in_inline_table(tmp_path):
    error = load_error(
        tmp_path,
        """
        [rules]
        select = ["lock-leak"]
        severity = { lock-leak = "fatal" }
        """,
    )
    assert_single_error(error, 3, "rules.severity.lock-leak", 'expected one of "error", "warning", "info", got "fatal"')


def test_bad_severity_in_severity_table(tmp_path):
    error = load_error(
        tmp_path,
        """
        [rules.severity]
        lock-leak = "error"
        double-lock = "fatal"
        """,
    )
    assert_single_error(error, 3, "rules.severity.double-lock", 'expected one of "error", "warning", "info", got "fatal"')


def test_unknown_preset(tmp_path):
    error = load_error(tmp_path, 'presets = ["pthread", "linus"]\n')
    expected = ", ".join(available_presets())
    assert_single_error(error, 1, "presets", f'unknown preset "linus"; expected one of {expected}')


def test_unknown_rule_in_a_multiline_list_points_at_the_item(tmp_path):
    error = load_error(
        tmp_path,
        """
        [rules]
        select = [
            "lock-leak",
            "lock-leek",
        ]
        """,
    )
    assert_single_error(error, 4, "rules.select", f'unknown rule "lock-leek"; expected one of {RULE_NAMES}')


def test_bad_lock_spec(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions.f]
        acquire = "first lock"
        """,
    )
    assert_single_error(error, 2, "functions.f.acquire", f'{LOCK_SPEC}, got "first lock"')


def test_lock_argument_out_of_range(tmp_path):
    error = load_error(tmp_path, '[functions.f]\nacquire = "arg16"\n')
    assert_single_error(
        error, 2, "functions.f.acquire", f'{LOCK_SPEC}, got "arg16" (arguments are arg0 to arg15)'
    )


def test_release_of_return_value_is_rejected(tmp_path):
    error = load_error(tmp_path, '[functions.f]\nrelease = "return"\n')
    assert_single_error(
        error, 2, "functions.f.release", '"return" is only valid for acquire and try-acquire functions; expected a lock spec like "arg0"'
    )


def test_function_without_action_points_at_its_header(tmp_path):
    error = load_error(
        tmp_path,
        """
        presets = ["pthread"]

        [functions.f]
        kind = "pthread_mutex"
        """,
    )
    assert_single_error(error, 3, "functions.f", f"expected exactly one of {ALL_ACTIONS}, found none")


def test_function_with_two_actions(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions.f]
        acquire = "arg0"
        release = "arg0"
        """,
    )
    assert_single_error(error, 1, "functions.f", f"expected exactly one of {ALL_ACTIONS}, found both acquire and release")


def test_function_with_three_actions(tmp_path):
    error = load_error(tmp_path, '[functions.f]\nacquire = "arg0"\nrelease = "arg0"\ntry-acquire = "arg0"\nsuccess = "zero"\n')
    assert error.message == f"expected exactly one of {ALL_ACTIONS}, found acquire, release and try-acquire"


def test_success_only_valid_with_try_acquire(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions.f]
        acquire = "arg0"
        success = "zero"
        """,
    )
    assert_single_error(error, 3, "functions.f.success", "only valid with try-acquire")


def test_try_acquire_requires_success(tmp_path):
    error = load_error(tmp_path, '[functions.f]\ntry-acquire-shared = "arg0"\n')
    assert_single_error(
        error,
        1,
        "functions.f.success",
        'required with try-acquire-shared; expected one of zero, nonzero, nonnull, null, negative or a constant\'s name like "thrd_success"',
    )


def test_bad_outcome_type(tmp_path):
    error = load_error(tmp_path, '[functions.f]\ntry-acquire = "arg0"\nsuccess = 0\n')
    assert_single_error(
        error,
        3,
        "functions.f.success",
        'expected one of zero, nonzero, nonnull, null, negative or a constant\'s name like "thrd_success", got integer',
    )


def test_unknown_kind_lists_known_kinds(tmp_path):
    error = load_error(
        tmp_path,
        """
        presets = ["c11"]

        [kinds.rec_mutex]
        recursive = true

        [functions.f]
        acquire = "arg0"
        kind = "mtx"
        """,
    )
    assert_single_error(
        error, 8, "functions.f.kind", 'unknown kind "mtx"; define it under [kinds.mtx] or use one of c11_mtx, rec_mutex'
    )


def test_unknown_kind_in_locks_names_the_element(tmp_path):
    error = load_error(
        tmp_path,
        """
        presets = []

        [[locks]]
        match = "*->a"

        [[locks]]
        match = "*->b"
        kind = "rec"
        """,
    )
    assert_single_error(error, 8, "locks[1].kind", 'unknown kind "rec"; define it under [kinds.rec]')


def test_type_error_list_of_strings(tmp_path):
    error = load_error(tmp_path, "[rules]\nignore = 3\n")
    assert_single_error(error, 2, "rules.ignore", "expected a list of strings, got integer")


def test_type_error_item_of_list(tmp_path):
    error = load_error(tmp_path, '[files]\nexclude = ["a/**", 7]\n')
    assert_single_error(error, 2, "files.exclude", "expected a list of strings, got integer at index 1")


def test_unknown_top_level_key(tmp_path):
    error = load_error(tmp_path, "# project\n\n[lokcs]\nmatch = 'x'\n")
    assert_single_error(error, 3, "lokcs", "unknown key; did you mean `locks`? expected one of extends, presets, rules, files, functions, kinds, locks, annotations, classes, lock-order, guarded, entry-points, limits, per-file-ignores")


def test_quoted_function_name_must_be_an_identifier(tmp_path):
    error = load_error(tmp_path, '[functions."foo bar"]\nacquire = "arg0"\n')
    assert_single_error(error, 1, 'functions."foo bar"', 'expected a C identifier as the function name, got "foo bar"')


def test_dotted_keys_are_located(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions]
        ok.acquire = "arg0"
        bad.release = "arg 0"
        """,
    )
    assert_single_error(error, 3, "functions.bad.release", f'{LOCK_SPEC}, got "arg 0"')


def test_a_table_built_from_dotted_keys_is_located_at_its_first_line(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions]
        g.acquire = "arg0"
        g.release = "arg0"
        """,
    )
    assert_single_error(error, 2, "functions.g", f"expected exactly one of {ALL_ACTIONS}, found both acquire and release")


def test_unknown_key_suppresses_the_action_count_check(tmp_path):
    # "aquire" may be the action, misspelt: "found none" would only add noise.
    error = load_error(tmp_path, '[functions.f]\naquire = "arg0"\nkind = "pthread_mutex"\n')
    assert [e.key for e in error.errors] == ["functions.f.aquire"]


def test_lines_inside_multiline_strings_are_not_keys(tmp_path):
    # The string's text looks like a table and a key; the real one is on line 6.
    error = load_error(
        tmp_path,
        '''
        [files]
        include = ["""
        [functions.f]
        acquire = 'x'
        """]
        exclude = 1
        ''',
    )
    assert_single_error(error, 6, "files.exclude", "expected a list of strings, got integer")


def test_subtable_of_array_element_is_located(tmp_path):
    error = load_error(
        tmp_path,
        """
        [[locks]]
        match = "a"
        [[locks]]
        match = "b"
        [locks.extra]
        x = 1
        """,
    )
    assert_single_error(error, 5, "locks[1].extra", "unknown key; expected one of match, kind, recursive")


def test_several_errors_are_all_reported_in_line_order(tmp_path):
    path = write(
        tmp_path,
        """
        [functions.f]
        acquire = "first lock"

        [rules]
        select = ["nope"]
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert [(e.line, e.key) for e in error.errors] == [(2, "functions.f.acquire"), (5, "rules.select")]
    assert (error.line, error.key) == (2, "functions.f.acquire")
    assert str(error) == (
        f'{path}:2: functions.f.acquire: {LOCK_SPEC}, got "first lock"\n'
        f'{path}:5: rules.select: unknown rule "nope"; expected one of {RULE_NAMES}'
    )


def test_syntax_error_gives_the_line(tmp_path):
    error = load_error(
        tmp_path,
        """
        [functions.f]
        acquire = "arg0"
        release =
        """,
    )
    assert (error.line, error.key) == (3, "")
    assert str(error) == f"{error.path}:3: invalid TOML: Invalid value (column 10)"


def test_missing_file_has_no_line(tmp_path):
    path = str(tmp_path / "missing.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line is None
    assert str(caught.value) == f"{path}: cannot read the configuration: No such file or directory"


def test_error_format_without_key_and_without_line():
    assert str(ConfigError("a.toml", None, "", "broken")) == "a.toml: broken"
    assert str(ConfigError("a.toml", None, "rules", "broken")) == "a.toml: rules: broken"
    assert str(ConfigError("a.toml", 4, "", "broken")) == "a.toml:4: broken"


def test_config_error_survives_pickling():
    error = ConfigError.combine([ConfigError("a.toml", 3, "k", "m1"), ConfigError("a.toml", 1, "j", "m0")])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "a.toml:1: j: m0\na.toml:3: k: m1"
    assert (copy.line, copy.key, copy.message) == (1, "j", "m0")


# ---------------------------------------------------------- defaults and presets


def test_default_config_has_every_preset_and_rule():
    config = default_config()
    assert config.source is None
    assert config.presets == available_presets()
    assert {"c11", "pthread"} <= set(config.presets)
    assert config.select == frozenset(RULES)
    assert dict(config.severities) == RULES
    assert config.functions["pthread_mutex_lock"] == LockFunction("pthread_mutex_lock", "acquire", "arg0", kind="pthread_mutex")
    assert config.functions["pthread_rwlock_tryrdlock"] == LockFunction(
        "pthread_rwlock_tryrdlock", "try-acquire", "arg0", shared=True, success="zero", kind="pthread_rwlock"
    )
    assert config.functions["mtx_trylock"] == LockFunction("mtx_trylock", "try-acquire", "arg0", success="thrd_success", kind="c11_mtx")
    assert config.kinds["pthread_spinlock"] == LockKind("pthread_spinlock", recursive=False, spinning=True)
    assert default_config() is config  # cached


def test_pthread_preset_covers_its_api():
    functions = default_config().functions
    actions = {name: f.config_action for name, f in functions.items() if name.startswith("pthread_")}
    assert actions == {
        "pthread_mutex_lock": "acquire",
        "pthread_mutex_trylock": "try-acquire",
        "pthread_mutex_timedlock": "try-acquire",
        "pthread_mutex_unlock": "release",
        "pthread_rwlock_rdlock": "acquire-shared",
        "pthread_rwlock_tryrdlock": "try-acquire-shared",
        "pthread_rwlock_timedrdlock": "try-acquire-shared",
        "pthread_rwlock_wrlock": "acquire",
        "pthread_rwlock_trywrlock": "try-acquire",
        "pthread_rwlock_timedwrlock": "try-acquire",
        "pthread_rwlock_unlock": "release",
        "pthread_spin_lock": "acquire",
        "pthread_spin_trylock": "try-acquire",
        "pthread_spin_unlock": "release",
    }
    assert all(f.success == "zero" for n, f in functions.items() if n.startswith("pthread_") and f.is_try)


def test_no_file_means_defaults(tmp_path):
    (tmp_path / "src").mkdir()
    assert config_for(str(tmp_path / "src" / "a.c")) is default_config()


def test_only_the_listed_presets_are_on(tmp_path):
    config = load_config(write(tmp_path, 'presets = ["c11"]\n'))
    assert config.presets == ("c11",)
    assert "mtx_lock" in config.functions
    assert "pthread_mutex_lock" not in config.functions
    assert set(config.kinds) == {"c11_mtx"}


def test_no_presets(tmp_path):
    config = load_config(write(tmp_path, 'presets = []\n[functions.grab]\nacquire = "arg1"\n'))
    assert config.presets == ()
    assert dict(config.functions) == {"grab": LockFunction("grab", "acquire", "arg1")}
    assert config.functions["grab"].lock_arg == 1


def test_user_function_overrides_preset(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            [functions.pthread_mutex_trylock]
            try-acquire = "arg0"
            success = "nonzero"
            failure = "zero"
            """,
        )
    )
    assert config.functions["pthread_mutex_trylock"] == LockFunction(
        "pthread_mutex_trylock", "try-acquire", "arg0", success="nonzero", failure="zero"
    )
    assert config.functions["pthread_mutex_lock"].kind == "pthread_mutex"  # the rest of the preset stays


def test_full_schema_is_read(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            presets = ["pthread"]

            [rules]
            select = ["lock-leak", "double-lock"]
            ignore = ["double-lock"]
            severity = { lock-leak = "error" }

            [files]
            include = ["src/**"]
            exclude = ["src/vendor"]

            [functions.lookup_locked]
            try-acquire = "return"
            success = "nonnull"

            [functions.rlock]
            acquire-shared = "arg2"
            kind = "rec_mutex"

            [kinds.rec_mutex]
            recursive = true

            [[locks]]
            match = "*->rec_lock"
            recursive = true
            kind = "rec_mutex"
            """,
        )
    )
    assert config.source == str(tmp_path / ".lockls.toml")
    assert config.root == str(tmp_path)
    assert config.select == frozenset({"lock-leak"})
    assert config.severity("lock-leak") == "error"
    assert config.severity("double-lock") == RULES["double-lock"]
    assert config.include == ("src/**",) and config.exclude == ("src/vendor",)
    assert config.functions["lookup_locked"] == LockFunction("lookup_locked", "try-acquire", "return", success="nonnull")
    assert config.functions["lookup_locked"].lock_arg is None
    assert config.functions["rlock"] == LockFunction("rlock", "acquire", "arg2", shared=True, kind="rec_mutex")
    assert config.kinds["rec_mutex"] == LockKind("rec_mutex", True)
    assert config.locks == (LockPattern("*->rec_lock", kind="rec_mutex", recursive=True),)


def test_empty_select_turns_every_rule_off(tmp_path):
    assert load_config(write(tmp_path, "[rules]\nselect = []\n")).select == frozenset()


def test_the_documented_complete_example_loads(tmp_path):
    here = os.path.dirname(__file__)
    with open(os.path.join(here, "..", "docs", "configuration.md"), encoding="utf-8") as file:
        doc = file.read()
    example = doc.split("## A complete example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_config(write(tmp_path, example))
    assert config.presets == ("pthread",)
    assert config.functions["obj_find_locked"] == LockFunction("obj_find_locked", "try-acquire", "return", success="nonnull")
    assert config.is_recursive("d->rec_lock", None) is True
    assert config.select == frozenset(RULES) - {"unlock-unheld"}


def test_examples_config_loads():
    here = os.path.dirname(__file__)
    config = load_config(os.path.join(here, "..", "examples", ".lockls.toml"))
    assert config.functions["cache_trylock"] == LockFunction("cache_trylock", "try-acquire", "arg0", success="nonzero")
    assert config.severity("lock-leak") == "error"


# ------------------------------------------------------------ kinds and recursion


def test_lock_kind_and_recursion_precedence(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            [kinds.rec]
            recursive = true

            [functions.rec_lock]
            acquire = "arg0"
            kind = "rec"

            [[locks]]
            match = "*->plain"
            recursive = false

            [[locks]]
            match = "d->*"
            kind = "rec"
            """,
        )
    )
    mutex_lock = config.functions["pthread_mutex_lock"]
    rec_lock = config.functions["rec_lock"]
    assert config.lock_kind_for("q->lock", mutex_lock) == config.kinds["pthread_mutex"]
    assert config.lock_kind_for("d->big", mutex_lock) == LockKind("rec", True)  # the pattern wins
    assert config.lock_kind_for("q->lock", None) is None
    assert config.is_recursive("q->lock", mutex_lock) is False
    assert config.is_recursive("q->lock", rec_lock) is True  # from the function's kind
    assert config.is_recursive("q->plain", rec_lock) is False  # the pattern wins
    assert config.is_recursive("d->big", mutex_lock) is True  # the pattern's kind
    assert config.is_recursive("x", None) is False


# --------------------------------------------------------------------- discovery


def test_discovery_walks_up_and_prefers_dot_file(tmp_path):
    write(tmp_path, "presets = []\n", name="lockls.toml")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "x.c").write_text("int x;\n")
    assert find_config_file(str(deep / "x.c")) == str(tmp_path / "lockls.toml")
    assert find_config_file(str(deep)) == str(tmp_path / "lockls.toml")
    write(tmp_path, 'presets = ["c11"]\n', name=".lockls.toml")
    assert find_config_file(str(deep / "x.c")) == str(tmp_path / ".lockls.toml")
    write(tmp_path / "a", 'presets = ["pthread"]\n', name="lockls.toml")
    assert find_config_file(str(deep / "x.c")) == str(tmp_path / "a" / "lockls.toml")  # nearest wins
    assert config_for(str(deep / "x.c")).presets == ("pthread",)


def test_explicit_config_wins_over_discovery(tmp_path):
    write(tmp_path, 'presets = ["c11"]\n')
    other = write(tmp_path / "elsewhere", 'presets = ["pthread"]\n', name="my.toml")
    assert config_for(str(tmp_path / "a.c"), explicit=other).presets == ("pthread",)
    assert config_for(str(tmp_path / "a.c")).presets == ("c11",)


def test_config_is_reloaded_when_the_file_changes(tmp_path):
    path = write(tmp_path, 'presets = ["c11"]\n')
    first = config_for(str(tmp_path / "a.c"))
    assert first.presets == ("c11",)
    assert config_for(str(tmp_path / "b.c")) is first  # cached while unchanged
    # The same text again: only the modification time tells.
    with open(path, "w", encoding="utf-8") as file:
        file.write('presets = ["c11"]\n')
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000_000))
    assert config_for(str(tmp_path / "a.c")) is not first
    write(tmp_path, 'presets = ["pthread"]\n')
    assert config_for(str(tmp_path / "a.c")).presets == ("pthread",)


def test_broken_config_raises_until_fixed(tmp_path):
    path = write(tmp_path, 'presets = "c11"\n')
    for _ in range(2):  # also from the cache
        with pytest.raises(ConfigError) as caught:
            config_for(str(tmp_path / "a.c"))
        assert str(caught.value) == f"{path}:1: presets: expected a list of strings, got string"
    write(tmp_path, 'presets = ["c11", "pthread"]\n')
    assert config_for(str(tmp_path / "a.c")).presets == ("c11", "pthread")


def test_deleted_config_falls_back_to_the_next_one(tmp_path):
    write(tmp_path, 'presets = ["c11"]\n')
    inner = write(tmp_path / "sub", 'presets = ["pthread"]\n')
    assert config_for(str(tmp_path / "sub" / "a.c")).presets == ("pthread",)
    os.remove(inner)
    assert config_for(str(tmp_path / "sub" / "a.c")).presets == ("c11",)


# --------------------------------------------------------------- include/exclude


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("src/**", "src/a.c", True),
        ("src/**", "src/x/y/a.c", True),
        ("src/**", "lib/src/a.c", False),
        ("src/*.c", "src/a.c", True),
        ("src/*.c", "src/x/a.c", False),  # `*` stays in one directory
        ("**/gen_*.c", "gen_a.c", True),
        ("**/gen_*.c", "a/b/gen_a.c", True),
        ("*.h", "include/deep/q.h", True),  # no "/": at any depth
        ("/*.h", "include/q.h", False),  # a leading "/" anchors
        ("/*.h", "q.h", True),
        ("third_party", "third_party/x/y.c", True),  # a directory: everything inside
        ("src/a?.c", "src/ab.c", True),
        ("src/a?.c", "src/a/.c", False),
        ("src/[ab].c", "src/b.c", True),
        ("src/[!ab].c", "src/c.c", True),
        ("src/[!ab].c", "src/a.c", False),
        ("a/**/z.c", "a/z.c", True),
        ("a/**/z.c", "a/b/c/z.c", True),
        ("*a*a*a*a*a*a*a*b", "a" * 60 + ".c", False),  # many stars, no match: no backtracking blow-up
        ("*a*a*a*a*a*a*a*b", "x/" + "a" * 60 + "b", True),
        ("src/**/**/*.c", "src/x/y/z/a.c", True),
        ("src/[a-c]*[!x].c", "src/bqqy.c", True),
        ("src/[a-c]*[!x].c", "src/bqqx.c", False),
        ("src/*", "src/a/b.c", True),  # matches the directory `src/a`: everything inside
    ],
)
def test_glob_matching(pattern, path, expected):
    assert glob_matches(pattern, path) is expected


def test_pathological_globs_are_matched_in_linear_time(tmp_path):
    """A pull request's `.lockls.toml` with a glob of many stars must not stall CI:
    this pattern against these names takes hours with a backtracking regex (the
    subprocess's timeout turns a hang into a failure)."""
    import subprocess
    import sys

    names = ["a" * 200 + str(i) + ".c" for i in range(20)]
    code = ("from lockls.config import glob_matches\n"
            f"print(sum(glob_matches('*a*a*a*a*a*a*a*a*a*a*a*b', n) for n in {names!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0", done.stderr


def test_include_and_exclude_relative_to_the_config(tmp_path):
    config = load_config(write(tmp_path, '[files]\ninclude = ["src/**", "*.h"]\nexclude = ["src/vendor"]\n'))
    assert config.is_included(str(tmp_path / "src" / "a.c"))
    assert config.is_included(str(tmp_path / "include" / "q.h"))
    assert not config.is_included(str(tmp_path / "tests" / "t.c"))
    assert not config.is_included(str(tmp_path / "src" / "vendor" / "z.c"))
    assert not config.is_included(str(tmp_path.parent / "outside.c"))  # include set: outside is out


def test_exclude_only_and_defaults(tmp_path):
    config = load_config(write(tmp_path, '[files]\nexclude = ["build/**"]\n'))
    assert config.is_included(str(tmp_path / "a.c"))
    assert not config.is_included(str(tmp_path / "build" / "gen.c"))
    assert config.is_included(str(tmp_path.parent / "outside.c"))
    assert default_config().is_included("/anything/at/all.c")


# ------------------------------------------------------------------ fingerprint


def test_fingerprint_is_stable_and_tracks_only_analysis_inputs(tmp_path):
    base = '[functions.grab]\nacquire = "arg0"\n'
    one = config_from_text(base, str(tmp_path / "a.toml"))
    again = config_from_text(base, str(tmp_path / "b.toml"))
    assert len(one.fingerprint()) == 64 and int(one.fingerprint(), 16) >= 0
    assert one.fingerprint() == again.fingerprint()
    assert pickle.loads(pickle.dumps(one)).fingerprint() == one.fingerprint()
    unrelated = base + '[rules]\nselect = ["lock-leak"]\nseverity = { lock-leak = "info" }\n[files]\nexclude = ["x"]\n'
    assert config_from_text(unrelated, "c.toml").fingerprint() == one.fingerprint()
    changed = '[functions.grab]\nacquire = "arg1"\n'
    assert config_from_text(changed, "d.toml").fingerprint() != one.fingerprint()
    with_lock = base + '[[locks]]\nmatch = "*"\nrecursive = true\n'
    assert config_from_text(with_lock, "e.toml").fingerprint() != one.fingerprint()
    fewer_presets = 'presets = ["c11"]\n' + base
    assert config_from_text(fewer_presets, "f.toml").fingerprint() != one.fingerprint()


def test_config_pickles(tmp_path):
    config = load_config(write(tmp_path, '[[locks]]\nmatch = "*->m"\nrecursive = true\n'))
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config
    assert isinstance(copy, Config)


# -------------------------------------------------------------------- show-config


def test_show_config_round_trip(tmp_path):
    original = load_config(
        write(
            tmp_path,
            """
            presets = ["pthread"]

            [rules]
            ignore = ["unlock-unheld"]
            severity = { lock-leak = "info" }

            [files]
            include = ["src/**"]
            exclude = ["weird \\"dir\\"\\tname/**"]

            [functions."odd_name"]
            try-acquire = "return"
            success = "nonnull"
            failure = "null"

            [kinds.rec]
            recursive = true

            [[locks]]
            match = "*->rec_lock"
            kind = "rec"

            [[locks]]
            match = "g_*"
            recursive = false
            """,
        )
    )
    text = show_config(original)
    reloaded = load_config(write(tmp_path / "copy", text))
    assert reloaded.fingerprint() == original.fingerprint()
    assert reloaded.select == original.select == frozenset(RULES) - {"unlock-unheld"}
    assert dict(reloaded.severities) == dict(original.severities)
    assert reloaded.include == original.include and reloaded.exclude == original.exclude == ('weird "dir"\tname/**',)
    assert reloaded.locks == original.locks
    assert "[functions.pthread_mutex_lock]" in text  # presets are spelled out


def test_show_config_of_defaults_round_trips(tmp_path):
    text = show_config(default_config())
    reloaded = load_config(write(tmp_path, text))
    assert reloaded.fingerprint() == default_config().fingerprint()
    assert reloaded.select == default_config().select
    assert dict(reloaded.severities) == dict(default_config().severities)
    assert dict(reloaded.functions) == dict(default_config().functions)


def test_toml_strings_and_keys_are_escaped():
    assert config_module.toml_string('a"b\\c\n\x01\x7f') == '"a\\"b\\\\c\\n\\u0001\\u007f"'
    assert config_module.toml_key("lock-leak") == "lock-leak"
    assert config_module.toml_key("a.b") == '"a.b"'
    assert config_module.toml_value({"x": [True, 3, "s"]}) == '{ x = [true, 3, "s"] }'


def test_may_sleep_functions_and_spinning_kinds(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text(
        '[functions.flush_disk]\nmay-sleep = true\n\n'
        '[functions.pool_alloc]\nmay-sleep = "POOL_WAIT"\n\n'
        '[kinds.ticket]\nspinning = true\n\n'
        '[functions.ticket_lock]\nacquire = "arg0"\nkind = "ticket"\n'
    )
    config = load_config(str(path))
    assert config.functions["flush_disk"] == LockFunction("flush_disk", "call", "", may_sleep="always")
    assert config.functions["pool_alloc"].may_sleep == "POOL_WAIT"
    assert config.kinds["ticket"] == LockKind("ticket", recursive=False, spinning=True)


def test_may_sleep_errors(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[functions.f]\nmay-sleep = 3\n\n[functions.g]\nmay-sleep = true\nkind = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key) for e in info.value.errors] == [(2, "functions.f.may-sleep"), (6, "functions.g.kind")]


def test_annotations_and_contracts_round_trip(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text(
        '[annotations]\nOVS_REQUIRES = "requires"\n\n'
        '[functions.rehash]\nrequires = ["arg0->mutex", "big_lock"]\nexcludes = ["arg1.lock"]\n'
    )
    config = load_config(str(path))
    assert config.annotations == {"OVS_REQUIRES": "requires"}
    assert config.functions["rehash"] == LockFunction(
        "rehash", "call", "", requires=("arg0->mutex", "=big_lock"), excludes=("arg1->lock",))
    again = tmp_path / "again" / ".lockls.toml"
    again.parent.mkdir()
    again.write_text(show_config(config))
    assert load_config(str(again)).fingerprint() == config.fingerprint()


def test_annotation_and_lock_ref_errors(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[annotations]\nOVS_REQUIRES = "needs"\n\n[functions.f]\nrequires = ["q->"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key) for e in info.value.errors] == [(2, "annotations.OVS_REQUIRES"), (5, "functions.f.requires")]


def test_classes_and_lock_order(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('lock-order = ["driver", "domain"]\n\n[classes.driver]\ntypes = ["struct  qemud_driver"]\n\n'
                    '[classes.domain]\nmatch = ["*->dom_lock"]\nnests = false\nneeds = "driver"\n')
    config = load_config(str(path))
    assert config.lock_order == ("driver", "domain")
    assert config.classes["driver"].types == ("struct qemud_driver",)
    assert (config.classes["domain"].nests, config.classes["domain"].needs) == (False, "driver")
    again = tmp_path / "again" / ".lockls.toml"
    again.parent.mkdir()
    again.write_text(show_config(config))
    assert load_config(str(again)).fingerprint() == config.fingerprint()


def test_class_errors(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('lock-order = ["drvier"]\n\n[classes.domain]\nnests = false\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key) for e in info.value.errors] == [(1, "lock-order"), (3, "classes.domain")]


def test_guarded_data(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[[guarded]]\nfield = "len"\nby = "lock"\n\n[[guarded]]\nvariable = "count"\nby = "count_lock"\n'
                    'everywhere = true\n\n[[guarded]]\nfield = "refs"\nby = "self"\n')
    config = load_config(str(path))
    assert [(g.field, g.variable, g.by, g.everywhere) for g in config.guarded] == [
        ("len", None, "lock", False), (None, "count", "=count_lock", True), ("refs", None, "self", False)]
    again = tmp_path / "again" / ".lockls.toml"
    again.parent.mkdir()
    again.write_text(show_config(config))
    assert load_config(str(again)).fingerprint() == config.fingerprint()


def test_guarded_errors(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[[guarded]]\nby = "lock"\n\n[[guarded]]\nfield = "n"\nby = "a b"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key) for e in info.value.errors] == [(1, "guarded[0]"), (6, "guarded[1].by")]


def test_guarded_types_and_entry_points(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[[guarded]]\ntype = "struct  qemud_driver"\nby = "lock"\nexcept = ["config", "virObjectRef"]\n\n'
                    '[[guarded]]\nfield = "slots"\nby = "lock"\npointee = true\n\n'
                    '[entry-points]\nfunctions = ["*_ioctl", "handle_event"]\ntables = ["struct file_operations", "virHypervisorDriver"]\n')
    config = load_config(str(path))
    assert [(g.type, g.field, g.by, g.pointee, g.exceptions) for g in config.guarded] == [
        ("struct qemud_driver", None, "lock", False, ("config", "virObjectRef")), (None, "slots", "lock", True, ())]
    assert config.entry_points == ("*_ioctl", "handle_event")
    assert config.entry_tables == ("struct file_operations", "virHypervisorDriver")
    assert config.is_entry_point("demo_ioctl") and config.is_entry_point("handle_event")
    assert not config.is_entry_point("handle_event_locked")
    again = tmp_path / "again" / ".lockls.toml"
    again.parent.mkdir()
    again.write_text(show_config(config))
    assert load_config(str(again)).fingerprint() == config.fingerprint()


def test_guarded_type_and_entry_point_errors(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[[guarded]]\ntype = "struct"\nby = "lock"\n\n'
                    '[[guarded]]\nfield = "n"\nby = "lock"\nexcept = ["x"]\n\n'
                    '[[guarded]]\nvariable = "g"\nby = "self"\n\n'
                    '[[guarded]]\nfield = "n"\ntype = "struct s"\nby = "lock"\n\n'
                    '[entry-points]\nfunctions = ["bad name"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key, e.message) for e in info.value.errors] == [
        (2, "guarded[0].type", 'expected a type name like "struct driver" or "virDomainObjPtr", got "struct"'),
        (8, "guarded[1].except", 'only valid with "type"'),
        (12, "guarded[2].by", 'a global is guarded by a global lock: expected its name, not "self"'),
        (14, "guarded[3]", 'expected exactly one of "field" (a struct field), "variable" (a global) and "type" '
                           '(every use of a variable of a struct type, like "struct driver")'),
        (20, "entry-points.functions", 'expected function names or globs like "*_ioctl", got "bad name"'),
    ]


def test_data_annotation_meanings(tmp_path):
    path = tmp_path / ".lockls.toml"
    path.write_text('[annotations]\nOVS_GUARDED_BY = "guarded-by"\nOVS_PT_GUARDED_BY = "pt-guarded-by"\n'
                    'OVS_ACQ_BEFORE = "acquired-before"\nOVS_ACQ_AFTER = "acquired-after"\nOVS_BAD = "guarded"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [(e.line, e.key) for e in info.value.errors] == [(6, "annotations.OVS_BAD")]
    assert "guarded-by" in info.value.errors[0].message


# ------------------------------------------------------- lock specs naming a global lock


def test_lock_spec_names_a_global_lock_or_a_field_of_an_argument(tmp_path):
    config = load_config(write(tmp_path, """
        [functions.rcu_enter]
        acquire-shared = "RCU"

        [functions.rcu_leave]
        release = "RCU"

        [functions.state_lock]
        acquire = "g_state.lock"

        [functions.dev_unlock]
        release = "arg1.inner->lock"

        [functions.argv_lock]
        try-acquire = "argv_lock"
        success = "zero"
        """))
    f = config.functions
    assert f["rcu_enter"] == LockFunction("rcu_enter", "acquire", "global", shared=True, path="RCU")
    assert f["rcu_leave"] == LockFunction("rcu_leave", "release", "global", path="RCU")
    assert (f["state_lock"].lock, f["state_lock"].path, f["state_lock"].lock_spec) == ("global", "g_state.lock", "g_state.lock")
    # a field of an argument: the path is stored as lock identity spells it
    assert (f["dev_unlock"].lock, f["dev_unlock"].path, f["dev_unlock"].lock_arg) == ("arg1", "->inner->lock", 1)
    assert f["dev_unlock"].lock_spec == "arg1->inner->lock"
    assert (f["argv_lock"].lock, f["argv_lock"].path) == ("global", "argv_lock")  # only argN is an argument
    assert LockFunction("f", "acquire", "arg2").lock_spec == "arg2"
    assert LockFunction("f", "acquire", "return").lock_spec == "return"


@pytest.mark.parametrize("value, message", [
    ('"first lock"', f'{LOCK_SPEC}, got "first lock"'),
    ('""', f'{LOCK_SPEC}, got ""'),
    ("0", f"{LOCK_SPEC}, got integer"),
    ('["RCU"]', f"{LOCK_SPEC}, got array"),
    ('"ARG0"', f'{LOCK_SPEC}, got "ARG0" (arguments are arg0 to arg15)'),
    ('"arg_1"', f'{LOCK_SPEC}, got "arg_1" (arguments are arg0 to arg15)'),
    ('"arg01"', f'{LOCK_SPEC}, got "arg01" (arguments are arg0 to arg15)'),
    ('"arg99->lock"', f'{LOCK_SPEC}, got "arg99->lock" (arguments are arg0 to arg15)'),
    ('"arg0->"', f'{LOCK_SPEC}, got "arg0->" (a field of an argument is written like "arg0->lock")'),
    ('"arg0[1]"', f'{LOCK_SPEC}, got "arg0[1]" (a field of an argument is written like "arg0->lock")'),
    ('"&big_lock"', f'{LOCK_SPEC}, got "&big_lock" (name the lock without "&")'),
    ('"*lockp"', f'{LOCK_SPEC}, got "*lockp" (name the lock without "*")'),
    ('"return->lock"', f'{LOCK_SPEC}, got "return->lock"'),
    ('"g..lock"', f'{LOCK_SPEC}, got "g..lock"'),
    ('"9lives"', f'{LOCK_SPEC}, got "9lives"'),
])
def test_bad_lock_specs(tmp_path, value, message):
    error = load_error(tmp_path, f"[functions.f]\nrelease = {value}\n")
    assert_single_error(error, 2, "functions.f.release", message)


def test_global_lock_specs_round_trip_through_show_config(tmp_path):
    original = load_config(write(tmp_path, """
        presets = ["linux"]

        [functions.big_lock]
        acquire = "g.big"

        [functions.dev_lock]
        acquire = "arg0->lock"
        """))
    text = show_config(original)
    assert '[functions.rcu_read_lock]\nacquire-shared = "RCU"\nkind = "rcu"\n' in text
    assert '[functions.big_lock]\nacquire = "g.big"\n' in text
    assert '[functions.dev_lock]\nacquire = "arg0->lock"\n' in text
    assert "[kinds.srcu]\nrecursive = true\nsleeping = false\n" in text
    reloaded = load_config(write(tmp_path / "copy", text))
    assert reloaded.fingerprint() == original.fingerprint()
    assert dict(reloaded.functions) == dict(original.functions)
    assert dict(reloaded.kinds) == dict(original.kinds)


def test_kind_that_neither_spins_nor_sleeps(tmp_path):
    config = load_config(write(tmp_path, "[kinds.epoch]\nrecursive = true\nsleeping = false\n\n"
                                         "[kinds.big_mutex]\nsleeping = true\n"))
    assert config.kinds["epoch"] == LockKind("epoch", recursive=True, spinning=False, sleeping=False)
    assert config.kinds["big_mutex"].sleeping is True
    error = load_error(tmp_path, "[kinds.ticket]\nspinning = true\nsleeping = true\n")
    assert_single_error(error, 3, "kinds.ticket.sleeping", "a spinning kind never sleeps; expected false or no sleeping key")
    error = load_error(tmp_path, '[kinds.ticket]\nsleeping = "no"\n')
    assert_single_error(error, 2, "kinds.ticket.sleeping", "expected true or false, got string")


def test_linux_preset_has_the_rcu_read_side():
    f = default_config().functions
    kinds = default_config().kinds
    for lock, unlock, context in [("rcu_read_lock", "rcu_read_unlock", "RCU"),
                                  ("rcu_read_lock_bh", "rcu_read_unlock_bh", "RCU_BH"),
                                  ("rcu_read_lock_sched", "rcu_read_unlock_sched", "RCU_SCHED")]:
        assert (f[lock].action, f[lock].shared, f[lock].lock, f[lock].path, f[lock].kind) == (
            "acquire", True, "global", context, "rcu")
        assert (f[unlock].action, f[unlock].lock, f[unlock].path) == ("release", "global", context)
    assert kinds["rcu"] == LockKind("rcu", recursive=True, spinning=True)
    assert kinds["srcu"] == LockKind("srcu", recursive=True, spinning=False, sleeping=False)
    assert (f["srcu_read_lock"].lock, f["srcu_read_lock"].kind) == ("arg0", "srcu")
    assert (f["scoped_cond_guard"].lock, f["scoped_cond_guard"].scope) == ("arg2", "macro")


def test_a_global_named_like_an_argument_is_a_global(tmp_path):
    """`arg0_lock` is a global's name, not argument 0 followed by `_lock`."""
    path = tmp_path / ".lockls.toml"
    path.write_text('[functions.flush]\nrequires = ["arg0_lock", "arg0", "arg1->mu"]\n')
    assert load_config(str(path)).functions["flush"].requires == ("=arg0_lock", "arg0", "arg1->mu")


def test_discovery_stops_at_the_repository_root(tmp_path):
    """A configuration above the repository (a `.git` directory) is not the project's."""
    write(tmp_path, 'presets = ["c11"]\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    clear_config_cache()
    assert config_for(str(repo / "src" / "a.c")) == default_config()
    write(repo, 'presets = ["pthread"]\n')
    clear_config_cache()
    assert config_for(str(repo / "src" / "a.c")).presets == ("pthread",)
    clear_config_cache()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give a file away")
def test_a_configuration_owned_by_another_user_is_not_used(tmp_path, capsys):
    """As git's safe.directory: someone else's `.lockls.toml` above a project (in a
    shared /tmp) must not configure it; lockls says so and goes on."""
    from lockls.main import main
    from lockls.config import DISCOVERY_WARNINGS

    foreign = write(tmp_path, "[rules]\nselect = []\n")
    os.chown(foreign, 4242, 4242)
    project = tmp_path / "project"
    project.mkdir()
    (project / "leak.c").write_text("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
                                    "int f(int x)\n{\n    pthread_mutex_lock(&m);\n    if (x)\n        return -1;\n"
                                    "    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    clear_config_cache()
    DISCOVERY_WARNINGS.clear()
    assert main(["--check", "--no-cache", str(project)]) == 1
    out, err = capsys.readouterr()
    assert "[lock-leak]" in out
    assert f"lockls: warning: {foreign}: not used: owned by another user" in err
    os.chown(foreign, 0, 0)  # root's: trusted
    clear_config_cache()
    assert main(["--check", "--no-cache", str(project)]) == 0
    clear_config_cache()


# ------------------------------------------- configuration a maintainer needs (issue 9 §3)


def test_actions_only_for_some_return_values(tmp_path):
    """`when`: the action happens only when the call returns that outcome."""
    config = load_config(write(tmp_path, """
        [functions.obj_unref]
        release = "arg0"
        when = "zero"

        [functions.end_job]
        release = "arg0"
        when = "negative"

        [functions.domain_lookup]
        acquire = "return"
        when = "nonnull"
        """))
    f = config.functions
    assert (f["obj_unref"].action, f["obj_unref"].when) == ("release", "zero")
    assert (f["domain_lookup"].action, f["domain_lookup"].lock, f["domain_lookup"].when) == ("acquire", "return", "nonnull")
    assert not f["domain_lookup"].is_try  # a blocking acquisition, not a trylock
    again = config_from_text(show_config(config), str(tmp_path / ".lockls.toml"))
    assert again.fingerprint() == config.fingerprint()
    assert 'when = "negative"' in show_config(config)
    other = config_from_text('[functions.obj_unref]\nrelease = "arg0"\nwhen = "nonzero"\n', str(tmp_path / "x.toml"))
    assert other.functions["obj_unref"].when == "nonzero" and other.fingerprint() != config.fingerprint()


def test_when_errors(tmp_path):
    error = load_error(tmp_path, """
        [functions.a]
        try-acquire = "arg0"
        success = "zero"
        when = "zero"

        [functions.b]
        tests-held = "arg0"
        when = "zero"

        [functions.c]
        acquire = "arg0"
        scope = "block"
        when = "zero"

        [functions.d]
        release = "arg0"
        when = "sometimes?"
        """)
    assert [(e.line, e.key, e.message) for e in error.errors] == [
        (4, "functions.a.when", "not valid with try-acquire: `success` says when it took the lock"),
        (8, "functions.b.when", "only valid with acquire, acquire-shared and release"),
        (13, "functions.c.when", "not valid with scope: a scoped acquisition always takes the lock"),
        (17, "functions.d.when", 'expected one of zero, nonzero, nonnull, null, negative or a constant\'s name like '
                                 '"thrd_success", got "sometimes?"'),
    ]


def test_several_actions_and_cases(tmp_path):
    config = load_config(write(tmp_path, """
        [functions.mon_switch]
        actions = [{ release = "arg1" }, { release = "arg2" }, { acquire = "arg0" }]
        kind = "pthread_mutex"

        [functions.lock_obj]
        by-arg = "arg1"
        cases = { 1 = { acquire = "arg0" }, 0x0 = [{ release = "arg0", kind = "pthread_rwlock" }], LOCK_SH = { acquire-shared = "arg0" } }
        requires = ["arg0->outer"]
        """))
    switch = config.functions["mon_switch"]
    assert switch.action == "call"
    assert [(s.action, s.lock, s.kind, s.name) for s in switch.steps] == [
        ("release", "arg1", "pthread_mutex", "mon_switch"), ("release", "arg2", "pthread_mutex", "mon_switch"),
        ("acquire", "arg0", "pthread_mutex", "mon_switch")]
    lock_obj = config.functions["lock_obj"]
    assert lock_obj.case_arg == 1 and lock_obj.requires == ("arg0->outer",)
    assert [(constant, [(s.action, s.shared, s.kind) for s in steps]) for constant, steps in lock_obj.cases] == [
        ("1", [("acquire", False, None)]), ("0", [("release", False, "pthread_rwlock")]), ("LOCK_SH", [("acquire", True, None)])]
    again = config_from_text(show_config(config), str(tmp_path / ".lockls.toml"))
    assert again.fingerprint() == config.fingerprint()
    assert again.functions["lock_obj"].cases == lock_obj.cases


def test_several_actions_errors(tmp_path):
    error = load_error(tmp_path, """
        [functions.a]
        acquire = "arg0"
        actions = [{ release = "arg1" }]

        [functions.b]
        cases = { 1 = { acquire = "arg0" } }

        [functions.c]
        by-arg = "arg16"
        cases = { 1 = { acquire = "arg0" } }

        [functions.d]
        actions = [{ tests-held = "arg0" }]

        [functions.e]
        actions = [{ acquire = "arg0", release = "arg1" }]

        [functions.f]
        by-arg = "arg1"
        cases = { "not a constant" = { acquire = "arg0" } }

        [functions.g]
        actions = [{ acquire = "arg0" }]
        when = "zero"

        [functions.h]
        actions = []
        """)
    assert [(e.line, e.key, e.message.split(";")[0]) for e in error.errors] == [
        (1, "functions.a", "expected one of an action key (acquire, acquire-shared, release, try-acquire, "
                           "try-acquire-shared, tests-held, tests-not-held), actions, or by-arg with cases"),
        (5, "functions.b.by-arg", 'required with cases'),
        (9, "functions.c.by-arg", 'expected an argument like "arg1" (arg0 to arg15), got "arg16"'),
        (13, "functions.d.actions[0].tests-held", "unknown key"),
        (16, "functions.e.actions[0]", "expected exactly one of acquire, acquire-shared, release, try-acquire, "
                                       "try-acquire-shared, found both acquire and release"),
        (20, 'functions.f.cases."not a constant"', 'expected a constant (a number or a name like "LOCK_EX"), '
                                                  'got "not a constant"'),
        (24, "functions.g.when", "not valid with actions: write it in the action it belongs to"),
        (27, "functions.h.actions", 'expected a list of actions like [{ release = "arg1" }, { acquire = "arg0" }], '
                                    "got an empty array"),
    ]


def test_function_globs(tmp_path):
    """`[functions."do_item_*"]`: every function whose name matches, unless it has an entry
    of its own; the first glob (in the file's order) wins."""
    import dataclasses

    config = load_config(write(tmp_path, """
        [functions."do_item_*"]
        requires = ["item_lock"]

        [functions."do_*"]
        requires = ["other_lock"]

        [functions.do_item_special]
        release = "arg0"
        """))
    f = config.functions
    assert f.get("do_item_link") == LockFunction("do_item_link", "call", "", requires=("=item_lock",))
    assert f["do_item_link"].name == "do_item_link" and "do_item_link" in f
    assert f.get("do_other").requires == ("=other_lock",)
    assert f["do_item_special"].action == "release"
    assert f.get("item_link") is None and "item_link" not in f
    # whoever copies the mapping (contracts laid over it, worker processes), globs still match
    copied = dataclasses.replace(config, functions={**config.functions, "extra": LockFunction("extra", "release", "arg0")})
    assert copied.functions.get("do_item_x").requires == ("=item_lock",)
    assert pickle.loads(pickle.dumps(config)).functions.get("do_item_x").requires == ("=item_lock",)
    assert config_from_text(show_config(config), str(tmp_path / ".lockls.toml")).fingerprint() == config.fingerprint()
    error = load_error(tmp_path, '[functions."do item*"]\nrequires = ["l"]\n')
    assert_single_error(error, 1, 'functions."do item*"', 'expected a glob of function names like "do_item_*", got "do item*"')


def test_array_lock_specs_and_refs(tmp_path):
    config = load_config(write(tmp_path, """
        [functions.lru_lock]
        acquire = "lru_locks[arg0]"

        [functions.bucket_lock]
        acquire = "arg0->buckets[arg1].lock"

        [functions.lru_check]
        requires = ["lru_locks[arg0]", "arg1->locks[arg2]"]
        """))
    f = config.functions
    assert (f["lru_lock"].lock, f["lru_lock"].path, f["lru_lock"].lock_spec) == ("global", "lru_locks[{arg0}]", "lru_locks[arg0]")
    assert (f["bucket_lock"].lock, f["bucket_lock"].path, f["bucket_lock"].lock_spec) == \
        ("arg0", "->buckets[{arg1}]->lock", "arg0->buckets[arg1]->lock")
    assert f["lru_check"].requires == ("=lru_locks[{arg0}]", "arg1->locks[{arg2}]")
    assert config_from_text(show_config(config), str(tmp_path / ".lockls.toml")).fingerprint() == config.fingerprint()
    assert 'requires = ["lru_locks[arg0]", "arg1->locks[arg2]"]' in show_config(config)
    error = load_error(tmp_path, '[functions.f]\nacquire = "locks[arg16]"\n')
    assert_single_error(error, 2, "functions.f.acquire", f'{LOCK_SPEC}, got "locks[arg16]" (arguments are arg0 to arg15)')


def test_excluding_a_class(tmp_path):
    config = load_config(write(tmp_path, """
        [classes.driver]
        match = ["driver_*"]

        [functions.driver_reload]
        excludes = ["class:driver", "big_lock"]
        """))
    assert config.functions["driver_reload"].excludes == ("class:driver", "=big_lock")
    assert 'excludes = ["class:driver", "big_lock"]' in show_config(config)
    error = load_error(tmp_path, '[functions.f]\nexcludes = ["class:nope"]\n\n[functions.g]\nrequires = ["class:driver"]\n')
    assert [(e.line, e.key, e.message.split(",")[0]) for e in error.errors] == [
        (2, "functions.f.excludes", 'unknown class "nope"; define it under [classes.nope]'),
        (5, "functions.g.requires", 'expected lock refs like "arg0->lock"'),
    ]


def test_entries_scoped_to_paths(tmp_path):
    """`paths` on `[functions.X]` and `[[guarded]]`: the entry applies to those files
    only; a preset's entry the project's replaced applies elsewhere."""
    write(tmp_path, """
        [functions.sock_lock]
        acquire = "arg0"
        paths = ["src/net/**"]

        [functions.pthread_mutex_lock]
        acquire = "arg1"
        paths = ["legacy"]

        [[guarded]]
        field = "pkt_count"
        by = "lock"
        paths = ["src/net"]
        exempt-functions = ["*_setup"]
        """)
    net = config_for(str(tmp_path / "src" / "net" / "tcp.c"))
    net_too = config_for(str(tmp_path / "src" / "net" / "deep" / "udp.c"))
    other = config_for(str(tmp_path / "src" / "fs" / "inode.c"))
    legacy = config_for(str(tmp_path / "legacy" / "old.c"))
    assert net.functions["sock_lock"].action == "acquire" and "sock_lock" not in other.functions
    assert [g.field for g in net.guarded] == ["pkt_count"] and other.guarded == ()
    assert net.guarded[0].exempt == ("*_setup",)
    assert net is net_too  # the same entries: one Config, one fingerprint
    assert len({net.fingerprint(), other.fingerprint(), legacy.fingerprint()}) == 3
    assert legacy.functions["pthread_mutex_lock"].lock == "arg1"
    assert other.functions["pthread_mutex_lock"] == default_config().functions["pthread_mutex_lock"]
    assert "sock_lock" not in config_for(str(tmp_path.parent / "elsewhere.c"), str(tmp_path / ".lockls.toml")).functions
    assert 'paths = ["src/net/**"]' in show_config(other) and "exempt-functions" in show_config(other)
    again = config_from_text(show_config(other), str(tmp_path / ".lockls.toml"))
    assert again.fingerprint() == other.unscoped().fingerprint()
    assert pickle.loads(pickle.dumps(net)).functions["sock_lock"].paths == ("src/net/**",)


def test_a_top_level_key_written_after_a_table(tmp_path):
    """TOML reads `lock-order = [...]` after `[functions.x]` as `functions.x.lock-order`."""
    error = load_error(tmp_path, """
        [classes.a]
        match = ["a_*"]

        [functions.x]
        acquire = "arg0"
        lock-order = ["a"]

        [[guarded]]
        field = "n"
        by = "lock"
        presets = ["pthread"]
        """)
    assert [(e.line, e.key, e.message) for e in error.errors] == [
        (6, "functions.x.lock-order", "`lock-order` belongs at the top level; move it above the first `[table]`"),
        (11, "guarded[0].presets", "`presets` belongs at the top level; move it above the first `[table]`"),
    ]
    assert str(error.errors[0]).endswith(".lockls.toml:6: functions.x.lock-order: `lock-order` belongs at the top "
                                         "level; move it above the first `[table]`")


def test_unknown_keys_suggest_the_nearest(tmp_path):
    error = load_error(tmp_path, """
        [functions.x]
        aquire-shared = "arg0"

        [[guarded]]
        field = "n"
        by = "lock"
        exempt-function = ["*_init"]

        [kinds.k]
        recurse = true

        [functions.y]
        zzz = 1
        """)
    assert [(e.line, e.key, e.message.split("?")[0]) for e in error.errors] == [
        (2, "functions.x.aquire-shared", "unknown key; did you mean `acquire-shared`"),
        (7, "guarded[0].exempt-function", "unknown key; did you mean `exempt-functions`"),
        (10, "kinds.k.recurse", "unknown key; did you mean `recursive`"),
        (13, "functions.y.zzz", f"unknown key; expected one of {FUNCTION_KEYS}"),
    ]


def test_every_documented_configuration_block_loads(tmp_path):
    """docs/configuration.md's examples (the new keys' among them) are valid configurations."""
    import re

    here = os.path.dirname(__file__)
    with open(os.path.join(here, "..", "docs", "configuration.md"), encoding="utf-8") as file:
        blocks = re.findall(r"```toml\n(.*?)```", file.read(), re.S)
    assert any("when = " in b for b in blocks) and any("by-arg" in b for b in blocks)
    write(tmp_path, "# the file the examples' `extends` name\n")
    for block in blocks:
        config_from_text(block, str(tmp_path / "sub" / "doc.lockls.toml"))


def test_check_applies_paths_file_by_file(tmp_path, capsys):
    """`--check` finds configurations per directory; an entry's `paths` still tell two
    files of one directory apart."""
    from lockls.main import main

    (tmp_path / ".git").mkdir()
    write(tmp_path, '[functions.sock_lock]\nacquire = "arg0"\npaths = ["net/a.c"]\n')
    body = "void sock_lock(int *s);\nint f(int *s, int x)\n{\n    sock_lock(s);\n    if (x)\n        return 1;\n    return 0;\n}\n"
    (tmp_path / "net").mkdir()
    for name in ("b.c", "a.c"):
        (tmp_path / "net" / name).write_text(body)
    clear_config_cache()
    assert main(["--check", "--no-cache", str(tmp_path / "net" / "b.c"), str(tmp_path / "net" / "a.c")]) == 1
    out = capsys.readouterr().out
    assert "a.c:6:9" in out and "b.c" not in out


def test_a_top_level_key_after_a_table_of_names(tmp_path):
    """Under `[annotations]` or `[functions]`, where keys are names, too."""
    error = load_error(tmp_path, '[annotations]\nMY_REQ = "requires"\nlock-order = ["x"]\n\n[functions]\npresets = ["c11"]\n')
    assert [(e.line, e.key, e.message) for e in error.errors] == [
        (3, "annotations.lock-order", "`lock-order` belongs at the top level; move it above the first `[table]`"),
        (6, "functions.presets", "`presets` belongs at the top level; move it above the first `[table]`"),
    ]
    assert load_config(write(tmp_path, '[functions.files]\nacquire = "arg0"\n')).functions["files"].action == "acquire"


def test_clears_names_an_argument_and_round_trips(tmp_path):
    """`clears = "arg0"`: with an action or alone (a plain call); a bad argument is an
    error; --show-config writes it back."""
    path = str(tmp_path / ".lockls.toml")
    cfg = config_from_text('[functions.put]\nrelease = "arg0->lock"\nunheld-ok = true\nclears = "arg0"\n'
                           '[functions.FREE_AND_NULL]\nclears = "arg0"\n', path)
    assert cfg.functions["put"].clears == 0 and cfg.functions["put"].action == "release"
    assert cfg.functions["FREE_AND_NULL"].clears == 0 and cfg.functions["FREE_AND_NULL"].action == "call"
    with pytest.raises(ConfigError, match=r'clears: expected an argument like "arg1"'):
        config_from_text('[functions.put]\nclears = "first"\n', path)
    again = config_from_text(show_config(cfg), path)
    assert again.functions["put"] == cfg.functions["put"]
    assert again.functions["FREE_AND_NULL"] == cfg.functions["FREE_AND_NULL"]


def test_entry_points_scoped_to_paths(tmp_path):
    """`[entry-points] paths`: the project's entries apply to the matching files only,
    the presets' (pthread_create's registrar) everywhere; --show-config keeps `paths`."""
    path = str(tmp_path / ".lockls.toml")
    cfg = config_from_text('[entry-points]\nfunctions = ["*_handler"]\ntables = ["struct ops"]\n'
                           'paths = ["drivers/**"]\n', path)
    inside = cfg.for_file(str(tmp_path / "drivers" / "net" / "a.c"))
    outside = cfg.for_file(str(tmp_path / "core" / "b.c"))
    assert inside.entry_points == ("*_handler",) and inside.entry_tables == ("struct ops",)
    assert outside.entry_points == () and outside.entry_tables == ()
    assert ("pthread_create", 2) in inside.entry_registrars and ("pthread_create", 2) in outside.entry_registrars
    assert inside.fingerprint() != outside.fingerprint()
    again = config_from_text(show_config(cfg), path)
    assert again.entry_paths == ("drivers/**",)
    assert again.for_file(str(tmp_path / "core" / "b.c")).entry_points == ()
    with pytest.raises(ConfigError, match=r"entry-points.paths: expected globs of files"):
        config_from_text('[entry-points]\nfunctions = ["f"]\npaths = ["/"]\n', path)
