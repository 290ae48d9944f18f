"""What git ignores is not checked: `.gitignore` files at every level (git's rules,
matched by `pathspec`), `.git/info/exclude`, for `--check` and the server's workspace
index; `--no-ignore`; and `--check` over paths without a C file is an error (exit 2).

The `.git` here is a bare directory (no git needed); where git is installed, one test
compares the walk with `git ls-files --others --exclude-standard` on the same tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from lockls.main import main


def leak(name: str) -> str:
    """A file with one lock-leak in `name`, and `name`_lock, a wrapper whose contract
    the workspace index keeps."""
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"void {name}_lock(void) {{ pthread_mutex_lock(&m); }}\n"
            f"int {name}(int x)\n{{\n    pthread_mutex_lock(&m);\n    if (x)\n        return -1;\n"
            "    pthread_mutex_unlock(&m);\n    return 0;\n}\n")


# every C file of the tree, and whether git ignores it (and why)
TREE = {
    "src/main.c": False,
    "src/util.h": False,
    "src/parser.gen.c": True,          # *.gen.c
    "src/keep.gen.c": False,           # !keep.gen.c
    "build/out.c": True,               # build/
    "lib/build/deep.c": True,          # build/ matches at any depth
    "node_modules/pkg/binding.c": True,  # node_modules/
    "sub/ok.c": False,
    "sub/gen/made.c": True,            # sub/.gitignore: gen/ (relative to sub/)
    "gen/top.c": False,                # ... so not this one
    "sub/local.c": True,               # sub/.gitignore: /local.c (anchored to sub/)
    "sub/deeper/local.c": False,       # ... so not this one
    "docs/a/b/example.c": True,        # docs/**/example.c
    "vendor/v.c": True,                # .git/info/exclude: vendor/
}
KEPT = sorted(path for path, ignored in TREE.items() if not ignored)


def ident(path: str) -> str:
    return "f_" + path.replace("/", "_").replace(".", "_")


def make_tree(root: Path, git: bool = True) -> Path:
    for path in TREE:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(leak(ident(path)))
    (root / ".gitignore").write_text("# generated\nbuild/\n*.gen.c\n!keep.gen.c\nnode_modules/\ndocs/**/example.c\n")
    (root / "sub" / ".gitignore").write_text("gen/\n/local.c\n")
    if git:
        (root / ".git" / "info").mkdir(parents=True)
        (root / ".git" / "info" / "exclude").write_text("vendor/\n")
    return root


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    root = make_tree(tmp_path / "repo")
    monkeypatch.chdir(root)
    from lockls.config import clear_config_cache

    clear_config_cache()
    yield root
    clear_config_cache()


def checked(capsys, *argv: str) -> tuple[int, list[str], str]:
    """Exit status, the files with findings (every file has one), stderr."""
    status = main(["--check", "--no-cache", "--format", "json", *argv])
    out, err = capsys.readouterr()
    return status, sorted({f["path"] for f in json.loads(out)}) if out else [], err


def test_check_leaves_out_what_git_ignores(capsys, tree):
    assert checked(capsys)[:2] == (1, KEPT)
    assert checked(capsys, ".")[:2] == (1, KEPT)


def test_no_ignore_checks_everything(capsys, tree):
    assert checked(capsys, "--no-ignore")[:2] == (1, sorted(TREE))
    assert main(["--check", "--no-ignore", "--help"]) == 0
    assert "--no-ignore" in capsys.readouterr().out


def test_a_subdirectory_gets_the_rules_of_its_parents(capsys, tree):
    """`lockls --check src` still reads the repository root's .gitignore."""
    assert checked(capsys, "src")[:2] == (1, ["src/keep.gen.c", "src/main.c", "src/util.h"])
    assert checked(capsys, "sub")[:2] == (1, ["sub/deeper/local.c", "sub/ok.c"])


def test_a_file_named_explicitly_is_checked_even_if_ignored(capsys, tree):
    assert checked(capsys, "src/parser.gen.c", ".")[:2] == (1, sorted(KEPT + ["src/parser.gen.c"]))
    assert checked(capsys, "node_modules/pkg/binding.c", "src")[:2] == (
        1, ["node_modules/pkg/binding.c", "src/keep.gen.c", "src/main.c", "src/util.h"])
    # a directory named explicitly is walked, under its own rules (lib/build/ is still ignored)
    assert checked(capsys, "build", "lib")[:2] == (1, ["build/out.c"])


def test_outside_a_repository_gitignore_files_still_count(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    root = make_tree(tmp_path / "plain", git=False)
    monkeypatch.chdir(root)
    assert checked(capsys)[:2] == (1, KEPT + ["vendor/v.c"])


def test_expand_paths_and_is_ignored(tree):
    from lockls.files import expand_paths, is_ignored

    assert sorted(given for _, given, _ in expand_paths(["."])) == KEPT
    assert sorted(given for _, given, _ in expand_paths(["."], ignore=False)) == sorted(TREE)
    for path, ignored in TREE.items():
        assert is_ignored(str(tree / path), str(tree)) == ignored, path


def test_an_edited_gitignore_is_read_again(capsys, tree):
    assert checked(capsys)[1] == KEPT
    (tree / ".gitignore").write_text("build/\n")
    assert checked(capsys)[1] == sorted(set(TREE) - {"build/out.c", "lib/build/deep.c", "vendor/v.c",
                                                      "sub/gen/made.c", "sub/local.c"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_walk_agrees_with_git(tmp_path):
    from lockls.files import expand_paths

    root = make_tree(tmp_path / "real", git=False)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".git" / "info" / "exclude").write_text("vendor/\n")
    listed = subprocess.run(["git", "-C", str(root), "-c", "core.excludesFile=/dev/null", "ls-files",
                             "--others", "--exclude-standard"], check=True, capture_output=True, text=True).stdout
    assert sorted(p for p in listed.splitlines() if p.endswith((".c", ".h"))) == KEPT
    assert sorted(given for _, given, _ in expand_paths([str(root)])) == [str(root / p) for p in KEPT]


# -- no C file ----------------------------------------------------------------------------

def test_an_empty_directory_is_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("no C here\n")
    (empty / "sub" / ".hidden").mkdir(parents=True)
    (empty / "sub" / ".hidden" / "x.c").write_text(leak("hidden"))
    assert main(["--check", "--no-cache", str(empty)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"lockls: error: no C files found under {empty}\n")
    monkeypatch.chdir(empty)
    assert main(["--check", "--no-cache"]) == 2
    assert capsys.readouterr() == ("", "lockls: error: no C files found under .\n")
    assert main(["--check", "--no-cache", "sub", "."]) == 2  # hidden directories are not walked either
    assert capsys.readouterr() == ("", "lockls: error: no C files found under sub, .\n")
    # a file named that does not exist keeps its own message
    assert main(["--check", "--no-cache", "missing.c"]) == 2
    assert capsys.readouterr() == ("", "lockls: error: missing.c: no such file or directory\n")


def test_a_directory_whose_c_files_are_all_ignored_is_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "only"
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "binding.c").write_text(leak("binding"))
    (root / ".gitignore").write_text("node_modules/\n")
    monkeypatch.chdir(root)
    assert main(["--check", "--no-cache", "."]) == 2
    assert capsys.readouterr() == ("", "lockls: error: no C files found under .\n")
    assert main(["--check", "--no-cache", "--no-ignore", "."]) == 1
    # the other modes do not look for C files
    assert main(["--show-config", "."]) == 0
    assert main(["--explain", "lock-leak"]) == 0


# -- the server's workspace index ------------------------------------------------------------

def test_the_workspace_index_leaves_out_what_git_ignores(tree):
    from lockls.config import default_config
    from lockls.lsp.workspace import ProjectIndex

    index = ProjectIndex([str(tree)], use_cache=False)
    index.start()
    try:
        deadline = time.monotonic() + 60
        while not index.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert index.ready
        assert index.files == len(KEPT)
        project = index.project_for(default_config())
        wrappers = sorted(name for name in dict(project.contracts.functions) if name.endswith("_lock"))
        assert wrappers == sorted(ident(p) + "_lock" for p in KEPT)
        for path, ignored in TREE.items():
            assert index.in_scope(str(tree / path), default_config()) == (not ignored), path
    finally:
        index.stop()
