"""vscode-extension/: the node --test unit tests of the logic that does not import
`vscode`, and the esbuild bundle + `vsce package` into a .vsix (offline)."""

from __future__ import annotations

import zipfile

from editors import REPO, missing, run_client, which

EXT = REPO / "vscode-extension"


def npm() -> str:
    exe = which("npm")
    if exe is None or which("node") is None:
        missing("Node.js and npm (apt-get install nodejs npm)")
    if not (EXT / "node_modules" / "vscode-languageclient").is_dir():
        missing("the extension's npm dependencies (npm ci in vscode-extension/)")
    return exe


def test_extension_unit_tests():
    proc = run_client([npm(), "test", "--silent"], cwd=EXT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout, proc.stdout


def test_extension_packages_into_a_vsix():
    vsix = EXT / "lockls.vsix"
    vsix.unlink(missing_ok=True)
    proc = run_client([npm(), "run", "package", "--silent"], cwd=EXT, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = z.read("extension/package.json").decode()
    assert {"extension/dist/extension.js", "extension/package.json", "extension/readme.md"} <= names
    assert not any(n.startswith("extension/src/") or "node_modules" in n for n in names)
    assert '"onLanguage:c"' in manifest


def test_a_repository_cannot_choose_the_server_executable():
    """`lockls.server.path` / `.args` are machine settings (a workspace's
    .vscode/settings.json cannot run another program once the folder is trusted), and
    the extension says what it does in untrusted workspaces."""
    import json

    manifest = json.loads((EXT / "package.json").read_text(encoding="utf-8"))
    properties = manifest["contributes"]["configuration"]["properties"]
    assert properties["lockls.server.path"]["scope"] == "machine"
    assert properties["lockls.server.args"]["scope"] == "machine"
    untrusted = manifest["capabilities"]["untrustedWorkspaces"]
    assert untrusted["supported"] == "limited"
    assert set(untrusted["restrictedConfigurations"]) == {"lockls.server.path", "lockls.server.args"}
