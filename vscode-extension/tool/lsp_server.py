"""Runs the lockls server that a platform .vsix bundles (bundled/libs, laid out by
`scripts/build-release --target TARGET`) with whichever Python runs this file.

    python -I bundled/tool/lsp_server.py [lockls arguments]   the server (or any lockls mode)
    python -I bundled/tool/lsp_server.py --probe               one JSON line: can this Python run it?

The extension probes each Python it finds (the Python extension's interpreter, then
python3/python on PATH) and starts the first that answers {"ok": true}. This file must
parse on any Python, so that an old one answers "too old" rather than a SyntaxError.
"""

import json
import os
import sys

BUNDLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = os.path.join(BUNDLE, "libs")
MANIFEST = os.path.join(BUNDLE, "bundle.json")
MINIMUM = (3, 10)


def manifest():
    """What build-release wrote: {"lockls": VERSION, "target": TARGET, "python": ["3.10", ...]}."""
    try:
        with open(MANIFEST, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (IOError, OSError, ValueError):
        return {}


def problem():
    """Why this Python cannot run the bundled server, or None when it can (lockls imported)."""
    here = "%d.%d" % sys.version_info[:2]
    if sys.version_info < MINIMUM:
        return "Python %s is older than %d.%d" % ((here,) + MINIMUM)
    if not os.path.isdir(LIBS):
        return "the extension has no bundled server (%s is missing)" % LIBS
    info = manifest()
    versions = info.get("python") or []
    if versions and here not in versions:
        return "the bundled server has native libraries for Python %s only, not %s" % (", ".join(versions), here)
    if LIBS not in sys.path:
        sys.path.insert(0, LIBS)  # ahead of site-packages: the bundle's versions win
    try:
        import tree_sitter  # noqa: F401  (native, one build per Python version)
        import tree_sitter_c  # noqa: F401
        import lockls.main  # noqa: F401
    except Exception as e:  # a bundle for another platform, a damaged one
        return "Python %s cannot load the bundled server (built for %s): %s: %s" % (
            here, info.get("target", "another platform"), type(e).__name__, e)
    return None


def main():
    # The wheel's data files (the .scm queries) land in libs/share when installed with
    # --target; set before lockls is imported, and inherited by worker processes.
    queries = os.path.join(LIBS, "share", "lockls", "queries")
    if os.path.isdir(queries):
        os.environ.setdefault("LOCKLS_QUERIES", queries)
    reason = problem()
    if sys.argv[1:] == ["--probe"]:
        sys.stdout.write(json.dumps({
            "ok": reason is None,
            "python": "%d.%d.%d" % sys.version_info[:3],
            "executable": sys.executable,
            "reason": reason,
        }) + "\n")
        return 0
    if reason is not None:
        sys.stderr.write("lockls: %s\n" % reason)
        return 2
    from lockls.main import main as lockls_main

    sys.argv[0] = "lockls"
    return lockls_main(sys.argv[1:])


# The guard matters: multiprocessing's "spawn" (macOS, Windows) imports this file again
# in each worker, which must not start another server.
if __name__ == "__main__":
    sys.exit(main())
