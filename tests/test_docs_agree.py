"""The documentation agrees with the code and with itself: the server's settings (what
`Session.apply_settings` reads, the VS Code extension's `contributes.configuration`,
the settings tables of docs/language-server.md and the README, the editor setups), the
presets (`config.available_presets()` against docs/configuration.md and the README),
which editors are tested (editors/README.md against tests/test_editors_*.py) and the
latency figures quoted from bench/README.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lockls.config import available_presets
from lockls.lsp.session import Session

REPO = Path(__file__).resolve().parents[1]
PACKAGE = json.loads((REPO / "vscode-extension" / "package.json").read_text(encoding="utf-8"))
# the extension's own settings: how it starts the server and traces it; never sent to the server
EXTENSION_ONLY = ("lockls.server.", "lockls.trace.")


def read(path: str) -> str:
    return (REPO / path).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(heading + "\n") + len(heading) + 1
    m = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, start)
    return text[start:m.start() if m else len(text)]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| `")]


def first_cells(text: str) -> list[str]:
    return [re.match(r"\| `([^`]+)`", row)[1] for row in table_rows(text)]


class Recording(dict):
    """Settings that remember which keys the server asked for (nested ones as `a.b`)."""

    def __init__(self, data: dict, asked: set, prefix: str = ""):
        super().__init__(data)
        self.asked, self.prefix = asked, prefix

    def _value(self, key, value):
        return Recording(value, self.asked, f"{self.prefix}{key}.") if isinstance(value, dict) else value

    def __contains__(self, key):
        self.asked.add(self.prefix + key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.asked.add(self.prefix + key)
        return self._value(key, super().__getitem__(key))

    def get(self, key, default=None):
        self.asked.add(self.prefix + key)
        return self._value(key, super().get(key, default))


def settings_read_by_the_server() -> set:
    """What apply_settings asks for, given every setting (each also does what it says)."""
    asked: set = set()
    s = Session()
    s.apply_settings(Recording({"configFile": "/ci/lockls.toml", "select": ["lock-leak"], "indexWorkspace": False,
                                "inlayHints": {"heldLocks": True}}, asked))
    assert (s.explicit_config, s.select, s.index_workspace, s.held_lock_hints) == (
        "/ci/lockls.toml", frozenset({"lock-leak"}), False, True)
    asked.discard("lockls")  # the wrapper the settings may come under, not a setting
    # a parent of nested settings is not one itself
    return {a for a in asked if not any(b.startswith(a + ".") for b in asked)}


def test_server_settings_agree():
    properties = PACKAGE["contributes"]["configuration"]["properties"]
    from_extension = {name[len("lockls."):] for name in properties if not name.startswith(EXTENSION_ONLY)}
    documented = first_cells(section(read("docs/language-server.md"), "### Settings"))
    assert len(documented) == len(set(documented))
    assert set(documented) == from_extension == settings_read_by_the_server()
    # the README's table is the same table
    assert table_rows(section(read("README.md"), "### Settings")) == table_rows(
        section(read("docs/language-server.md"), "### Settings"))
    # the extension sends each one (src/config.ts), and the Neovim plugin knows each one
    config_ts = read("vscode-extension/src/config.ts")
    neovim = read("editors/neovim/lua/lockls.lua")
    for name in documented:
        assert f"'{name}'" in config_ts, name
        assert all(re.search(rf"\b{part}\b", neovim) for part in name.split(".")), name


def test_extension_settings_listed_where_users_look():
    properties = sorted(PACKAGE["contributes"]["configuration"]["properties"])
    vscode_readme = first_cells(section(read("vscode-extension/README.md"), "## Settings"))
    assert sorted(vscode_readme) == properties
    for doc in ("docs/editors.md", "README.md"):
        listed = re.search(r"Settings ((?:`lockls\.[\w.]+`,?\s*(?:\([^)]*\),?\s*)?)+);", read(doc), re.S)
        assert listed, doc
        assert sorted(re.findall(r"`(lockls\.[\w.]+)`", listed[1])) == properties, doc


def test_presets_listed():
    presets = set(available_presets())
    assert presets == {"pthread", "c11", "linux", "glib", "qemu", "libvirt"}
    configuration = read("docs/configuration.md")
    assert set(first_cells(section(configuration, "### `presets`"))) == presets
    m = re.search(r'unknown preset "linus"; expected one of ([\w, ]+)\n', configuration)
    assert m and m[1] == ", ".join(sorted(presets))  # the example error says what lockls says
    readme = section(read("README.md"), "## Configuration")
    sentence = readme[readme.index("Presets: "):readme.index("Presets are TOML files")]
    assert set(re.findall(r"`(\w+)` \(", sentence)) == presets


EDITOR_TESTS = {  # the editors/README.md row -> the prefixes of its tests' files
    "VS Code": ("test_editors_vscode",), "Neovim": ("test_editors_neovim",),
    "Emacs": ("test_editors_emacs", "test_editors_flymake"), "Helix": ("test_editors_helix",),
    "Vim": ("test_editors_vim",), "Sublime Text": ("test_editors_sublime",), "Kate": ("test_editors_kate",),
}


def test_tested_editors_are_the_ones_with_tests():
    rows = [line for line in read("editors/README.md").splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(EDITOR_TESTS)
    for row in rows:
        editor, _, tested = (cell.strip() for cell in row.strip("|").split("|"))
        (name,) = [n for n in EDITOR_TESTS if editor.startswith(n + " ") or editor == n]
        files = sorted(p.name for p in (REPO / "tests").glob("test_editors_*.py")
                       if p.name.startswith(tuple(x + c for x in EDITOR_TESTS[name] for c in "._")))
        if files:
            assert tested.startswith("**yes**"), row
            assert all(f"`tests/{f}`" in tested for f in files), (row, files)  # names every test of it
        else:
            assert tested.startswith("no"), row
    # every editor test is some editor's, and docs/editors.md's table lists it
    editors_md = read("docs/editors.md")
    for path in sorted((REPO / "tests").glob("test_editors_*.py")):
        assert path.name.startswith(tuple(x for prefixes in EDITOR_TESTS.values() for x in prefixes)), path.name
        assert f"`{path.name}" in editors_md, path.name


def latency_paragraph(text: str) -> str:
    start = text.index("Measured with `python bench/lsp_latency.py`")
    return text[start:].split("\n\n")[0].strip()


def test_latency_figures_come_from_the_benchmarks():
    docs = latency_paragraph(read("docs/language-server.md"))
    assert latency_paragraph(read("README.md")) == docs
    bench = read("bench/README.md")
    figures = re.findall(r"(\d[\d,.]*(?:–\d[\d,.]*)?)(?:\s*ms|×)", docs)
    assert len(figures) >= 8, figures
    for figure in figures:
        assert re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d])", bench), figure
