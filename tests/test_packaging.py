"""The files a project adopting lockls relies on: licence, install instructions that work
before lockls is on PyPI, the pre-commit hook, the GitHub Action and workflows, the VS Code
package's manifest, the release script and what pyproject.toml packages.

Fast and offline: files are read, nothing is built or installed.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
REPO_URL = "https://github.com/lockls/lockls"


def read(rel: str) -> str:
    return (REPO / rel).read_text(encoding="utf-8")


def pyproject() -> dict:
    return tomllib.loads(read("pyproject.toml"))


# --- LICENSE -------------------------------------------------------------------------


def test_license_is_mit_and_matches_pyproject():
    text = read("LICENSE")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The lockls authors" in text
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    license = pyproject()["project"]["license"]
    assert (license.get("text") if isinstance(license, dict) else license) == "MIT"


# --- install instructions ------------------------------------------------------------

# `pip install lockls` (or pipx) names a package that is not published yet; a line may
# say it only when it also says "once published".
_UNPUBLISHED = re.compile(r"\bpipx? install lockls(?![\w.-])")


def _user_facing_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "examples" / "README.md"]
    files += sorted((REPO / "docs").rglob("*.md"))
    files += sorted(p for p in (REPO / "editors").rglob("*") if p.is_file())
    ext = REPO / "vscode-extension"
    files += sorted((ext / "src").glob("*.ts"))
    files += [ext / "README.md", ext / "package.json", ext / "CHANGELOG.md"]
    return [p for p in files if p.is_file()]


def test_no_page_says_pip_install_lockls_unless_once_published():
    files = _user_facing_files()
    assert any(p.parent.name == "src" for p in files), "the extension's sources were not found"
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _UNPUBLISHED.search(line) and "once published" not in line.lower():
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_readme_says_how_to_install_from_the_repository():
    readme = read("README.md")
    assert f"pipx install git+{REPO_URL}" in readme
    assert "pip install ." in readme
    assert "Supported platforms" in readme
    # The README's first command (the bundled example project) is unchanged.
    assert "pip install -e . && lockls --check examples/" in readme


def test_the_extension_offers_an_install_command_that_works():
    config = read("vscode-extension/src/config.ts")
    m = re.search(r"export const INSTALL_COMMAND = (.+);", config)
    assert m, "INSTALL_COMMAND not found in vscode-extension/src/config.ts"
    assert "pipx install git+" in m[1]
    assert f"REPOSITORY_URL = '{REPO_URL}'" in config


# --- pre-commit hook -----------------------------------------------------------------


def _scalar(text: str):
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(item) for item in text[1:-1].split(",") if item.strip()]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return {"true": True, "false": False}.get(text, text)


def parse_hooks(text: str) -> list[dict]:
    """The subset of YAML .pre-commit-hooks.yaml uses: a list of flat mappings."""
    hooks: list[dict] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = "  " + line[2:]
        assert line.startswith("  ") and not line.startswith("   "), f"unexpected line: {line!r}"
        assert hooks, f"a key before the first hook: {line!r}"
        key, sep, value = line.strip().partition(":")
        assert sep, f"not a key: {line!r}"
        hooks[-1][key] = _scalar(value)
    return hooks


def test_pre_commit_hook():
    text = read(".pre-commit-hooks.yaml")
    hooks = parse_hooks(text)
    try:
        import yaml  # noqa: PLC0415 (only if it happens to be installed)
    except ImportError:
        pass
    else:
        assert yaml.safe_load(text) == hooks
    (hook,) = [h for h in hooks if h.get("id") == "lockls"]
    assert hook["entry"].split()[:2] == ["lockls", "--check"]
    assert hook["language"] == "python"
    assert hook["types"] == ["c"]
    assert hook["require_serial"] is True
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    assert files.search("src/queue.c") and files.search("include/queue.h")
    assert not files.search("src/queue.cpp") and not files.search("notes.c.txt")


# --- GitHub Action and workflows -------------------------------------------------------


def test_action_is_a_composite_action_with_sarif_and_annotations():
    action = read("action.yml")
    assert re.search(r"^\s+using: composite\s*$", action, re.M)
    for name, default in [("paths", '"."'), ("args", '""'), ("python-version", '"3.12"'), ("sarif", '"true"')]:
        assert re.search(rf"^  {re.escape(name)}:\n(?:    .*\n)*?    default: {re.escape(default)}$", action, re.M), name
    assert "actions/setup-python@" in action
    assert "GITHUB_ACTION_PATH" in action or "github.action_path" in action
    assert "--format sarif" in action
    assert "--format github" in action
    assert "github/codeql-action/upload-sarif@v3" in action
    assert "if: inputs.sarif == 'true'" in action
    # the last step fails when lockls found something
    last = action.rsplit("- name:", 1)[1]
    assert "exit 1" in last and "steps.annotate.outputs.exit-code" in last


def workflow_outline(text: str) -> dict:
    """The shape of a workflow in GitHub's block-style YAML, read without a YAML library:
    {"top": [top-level keys], "jobs": {job: {"runs-on": ..., "needs": [...], "steps": N}}}.
    Fails on what would not parse (tabs, odd indentation, a job without steps)."""
    top, jobs, job, in_steps = [], {}, None, False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert "\t" not in line[: len(line) - len(line.lstrip())], f"line {number}: a tab in the indentation"
        indent = len(line) - len(line.lstrip(" "))
        key = line.strip().split(":", 1)[0]
        if indent == 0:
            assert line.rstrip().endswith(":") or ": " in line, f"line {number}: not a key: {line!r}"
            top.append(key)
        elif top and top[-1] == "jobs" and indent == 2:
            assert line.rstrip().endswith(":"), f"line {number}: a job is a mapping: {line!r}"
            job, in_steps = key, False
            jobs[job] = {"runs-on": None, "needs": [], "steps": 0}
        elif job is not None and indent == 4:
            value = line.split(":", 1)[1].strip()
            in_steps = key == "steps"
            if key == "runs-on":
                jobs[job]["runs-on"] = value
            elif key == "needs":
                jobs[job]["needs"] = [n.strip() for n in value.strip("[]").split(",") if n.strip()]
        elif in_steps and indent == 6 and line.lstrip().startswith("- "):
            jobs[job]["steps"] += 1
        else:
            assert indent % 2 == 0, f"line {number}: odd indentation: {line!r}"
    for name, j in jobs.items():
        assert j["runs-on"] and j["steps"], f"job {name} has no runs-on or no steps"
        assert set(j["needs"]) <= set(jobs), f"job {name} needs an unknown job: {j['needs']}"
    return {"top": top, "jobs": jobs}


@pytest.mark.parametrize("rel", [".github/workflows/ci.yml", ".github/workflows/release.yml"])
def test_workflows_are_well_formed(rel):
    text = read(rel)
    outline = workflow_outline(text)
    assert outline["top"][:2] == ["name", "on"] and "jobs" in outline["top"], outline["top"]
    try:
        import yaml  # noqa: PLC0415 (only if it happens to be installed)
    except ImportError:
        return
    loaded = yaml.safe_load(text)
    assert set(loaded["jobs"]) == set(outline["jobs"])
    for name, job in loaded["jobs"].items():
        assert len(job["steps"]) == outline["jobs"][name]["steps"], name


def test_workflows():
    ci = read(".github/workflows/ci.yml")
    assert "bash .ci/run" in ci
    assert '"3.10"' in ci and '"3.12"' in ci
    assert "runs-on: ubuntu-latest" in ci and "runs-on: macos-latest" in ci
    assert "lockls --check examples/" in ci
    assert set(workflow_outline(ci)["jobs"]) == {"test", "macos"}
    release = read(".github/workflows/release.yml")
    assert re.search(r'tags: \["v\*"\]', release)
    assert "id-token: write" in release
    assert "pypa/gh-action-pypi-publish@" in release
    # every platform .vsix is built, and the neutral one
    assert "bash scripts/build-release --all-targets" in release
    assert "secrets.OVSX_PAT" in release and "secrets.VSCE_PAT" in release
    jobs = workflow_outline(release)["jobs"]
    assert {name: j["needs"] for name, j in jobs.items()} == {
        "build": [], "pypi": ["build"], "vscode": ["build"], "github-release": ["build"]}
    # each registry gets the neutral .vsix before the platform ones (the other order is refused)
    loop = 'for vsix in "dist/lockls-$version.vsix" "dist/lockls-$version-"*.vsix; do'
    assert release.count(loop) == 2
    assert 'npx --yes ovsx@0 publish --packagePath "$vsix"' in release
    assert 'npx --yes @vscode/vsce@3 publish --packagePath "$vsix"' in release


@pytest.mark.parametrize("rel", ["action.yml", ".github/workflows/ci.yml", ".github/workflows/release.yml"])
def test_actions_are_pinned_by_major_version(rel):
    uses = re.findall(r"^\s*(?:- )?uses: *([^\s#]+)", read(rel), re.M)
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@(?:release/)?v\d+", ref), ref


# --- VS Code extension -----------------------------------------------------------------


def test_vscode_package_has_icon_repository_and_cpp_activation():
    ext = REPO / "vscode-extension"
    pkg = json.loads((ext / "package.json").read_text(encoding="utf-8"))
    icon = ext / pkg["icon"]
    data = icon.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (128, 128)
    # vsce packs only what .vscodeignore lets through
    assert "!images/**" in (ext / ".vscodeignore").read_text(encoding="utf-8")
    repo = pkg["repository"]
    assert REPO_URL in (repo["url"] if isinstance(repo, dict) else repo)
    assert pkg["bugs"]["url"] == f"{REPO_URL}/issues"
    assert pkg["homepage"].startswith(REPO_URL)
    assert {"onLanguage:c", "onLanguage:cpp"} <= set(pkg["activationEvents"])
    # headers are opened as C++: the client's document selector takes cpp *.h only
    assert "{ scheme: 'file', language: 'cpp', pattern: '**/*.h' }" in (ext / "src" / "config.ts").read_text(encoding="utf-8")
    assert pkg["capabilities"]["untrustedWorkspaces"]["supported"] == "limited"


# --- release script and what gets packaged --------------------------------------------------


def test_build_release_script_is_executable_bash():
    script = REPO / "scripts" / "build-release"
    assert script.stat().st_mode & 0o111, "scripts/build-release is not executable"
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    proc = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


VSCODE_TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"]


def test_build_release_bundles_every_target_for_every_supported_python():
    script = read("scripts/build-release")
    assert re.search(r'^ALL_TARGETS="(.*)"$', script, re.M)[1].split() == VSCODE_TARGETS
    for target in VSCODE_TARGETS:
        assert re.search(rf"^    {target}\) echo \S+ ;;$", script, re.M), target
    bundled = re.search(r'^BUNDLE_PYTHONS="(.*)"$', script, re.M)[1].split()
    classified = [c.rsplit(" :: ", 1)[1] for c in pyproject()["project"]["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert classified and set(classified) <= set(bundled), (classified, bundled)
    assert bundled[0] == pyproject()["project"]["requires-python"].removeprefix(">=")
    assert re.search(r"^UV_VERSION=\d+\.\d+\.\d+$", script, re.M)
    # the bundle is packed with the extension, and never committed
    ext = REPO / "vscode-extension"
    ignore = (ext / ".vscodeignore").read_text(encoding="utf-8").splitlines()
    assert "!bundled/**" in ignore and "bundled/**/__pycache__/**" in ignore
    assert "bundled/" in (ext / ".gitignore").read_text(encoding="utf-8").splitlines()


def run_launcher(tmp_path: Path, *args: str, libs: bool, manifest: dict | None = None):
    """vscode-extension/tool/lsp_server.py laid out as in a platform .vsix (bundled/tool/),
    run by this Python without site-packages (-S): only the bundle could provide lockls."""
    tool = tmp_path / "bundled" / "tool"
    tool.mkdir(parents=True)
    shutil.copy(REPO / "vscode-extension" / "tool" / "lsp_server.py", tool)
    if libs:
        (tmp_path / "bundled" / "libs").mkdir()
    if manifest is not None:
        (tmp_path / "bundled" / "bundle.json").write_text(json.dumps(manifest))
    return subprocess.run([sys.executable, "-I", "-S", str(tool / "lsp_server.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_bundle_launcher_probe_says_why_a_python_cannot_run_it(tmp_path):
    here = "%d.%d" % sys.version_info[:2]
    libs = tmp_path / "bundled" / "libs"
    proc = run_launcher(tmp_path, "--probe", libs=False)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {
        "ok": False, "python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable,
        "reason": f"the extension has no bundled server ({libs} is missing)"}
    # native libraries for other versions only
    proc = run_launcher(tmp_path / "a", "--probe", libs=True, manifest={"target": "linux-x64", "python": ["3.99"]})
    assert json.loads(proc.stdout)["reason"] == f"the bundled server has native libraries for Python 3.99 only, not {here}"
    # the libraries do not load (here: they are missing)
    proc = run_launcher(tmp_path / "b", "--probe", libs=True, manifest={"target": "win32-x64", "python": [here]})
    assert json.loads(proc.stdout)["reason"] == (
        f"Python {here} cannot load the bundled server (built for win32-x64): "
        "ModuleNotFoundError: No module named 'tree_sitter'")
    # started as the server anyway: exit status 2 and the reason
    proc = run_launcher(tmp_path / "c", libs=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("lockls: the extension has no bundled server (")


def test_bundle_launcher_parses_on_old_pythons():
    """An old Python must answer the probe with "older than 3.10", not a SyntaxError:
    no f-strings, annotations or walrus in the launcher."""
    import ast

    source = read("vscode-extension/tool/lsp_server.py")
    tree = ast.parse(source)
    kinds = {type(node).__name__ for node in ast.walk(tree)}
    assert not kinds & {"JoinedStr", "AnnAssign", "NamedExpr", "AsyncFunctionDef", "Await"}, kinds
    assert all(not (f.returns or any(a.annotation for a in f.args.args))
               for f in ast.walk(tree) if isinstance(f, ast.FunctionDef))
    assert "MINIMUM = (3, 10)" in source


def test_versions_agree():
    version = pyproject()["project"]["version"]
    pkg = json.loads(read("vscode-extension/package.json"))
    assert pkg["version"] == version
    m = re.search(r'^__version__ = "([^"]+)"', read("server/lockls/__init__.py"), re.M)
    if m:
        assert m[1] == version


def test_pyproject_packages_what_exists():
    """A wheel built from pyproject.toml has the presets, the queries and a working
    `lockls` entry point (a moved module does not break the editable install the tests
    use, only the wheel)."""
    project = pyproject()
    setuptools = project["tool"]["setuptools"] if "tool" in project else {}
    src = REPO / setuptools.get("package-dir", {}).get("", ".")
    for package, globs in setuptools.get("package-data", {}).items():
        base = src.joinpath(*package.split("."))
        for glob in globs:
            assert list(base.glob(glob)), f"package-data {package}: {glob} matches nothing under {base}"
    for target, globs in setuptools.get("data-files", {}).items():
        for glob in globs:
            assert list(REPO.glob(glob)), f"data-files {target}: {glob} matches nothing"
    for name, spec in project["project"]["scripts"].items():
        module, _, function = spec.partition(":")
        path = src.joinpath(*module.split("."))
        source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        assert source.is_file(), f"[project.scripts] {name} = {spec}: no module {module}"
        assert re.search(rf"^def {re.escape(function)}\(", source.read_text(encoding="utf-8"), re.M), (
            f"[project.scripts] {name} = {spec}: no function {function} in {source.relative_to(REPO)}"
        )
    classifiers = project["project"].get("classifiers", [])
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert project["project"]["urls"]["Repository"] == REPO_URL
