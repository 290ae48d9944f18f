"""The `lockls` command line: the language server, `--check`, `--explain`, `--show-config`.

Owns: parsing and validating arguments and dispatching to the server or to
`check`. Must stay light to import: `--check` never imports pygls or lsprotocol
(the server is imported only when it is the command being run), nor the
analysis until a file actually needs analysing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lockls import __version__
from lockls.files import printable
from lockls.report.formats import FORMATS
from lockls.dataflow.lockgraph import GRAPH_FORMATS
from lockls.catalogue import RULES

FAIL_ON = ("error", "warning", "never")

# Options that only make sense with --check (starting the server with them is a mistake):
# argparse destination -> the option's spelling.
_CHECK_ONLY = {
    "fmt": "--format",
    "config": "--config",
    "select": "--select",
    "ignore": "--ignore",
    "fail_on": "--fail-on",
    "jobs": "--jobs",
    "no_cache": "--no-cache",
    "cache_dir": "--cache-dir",
    "no_project_context": "--no-project-context",
    "no_ignore": "--no-ignore",
    "lock_graph": "--lock-graph",
    "statistics": "--statistics",
    "report_unused_suppressions": "--report-unused-suppressions",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockls",
        description="Finds lock bugs in C. Without options: runs the language server on stdin/stdout.",
        epilog=f"Rules: {', '.join(RULES)}. Exit status: 0 no findings at or above --fail-on, "
        "1 findings, 2 usage or configuration error.",
    )
    parser.add_argument("--version", action="version", version=f"lockls {__version__}")
    mode = parser.add_argument_group("modes")
    mode.add_argument("--stdio", action="store_true", help="run the language server on stdin/stdout (the default)")
    mode.add_argument("--check", action="store_true", help="analyse PATHs (files and directories; default .) and print findings")
    mode.add_argument("--explain", metavar="RULE", help="print a rule's documentation")
    mode.add_argument("--show-summary", metavar="FUNCTION",
                      help="print what FUNCTION does to its caller's locks, as inferred or declared in PATHs, and why")
    mode.add_argument("--show-config", action="store_true", help="print the effective configuration (presets included) for PATH or .")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to check (with --check)")

    check = parser.add_argument_group("--check options")
    check.add_argument("--format", dest="fmt", choices=FORMATS, default=None, help="output format (default: text)")
    check.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest .lockls.toml)")
    check.add_argument("--select", metavar="RULE,...", action="append", help="report only these rules")
    check.add_argument("--ignore", metavar="RULE,...", action="append", help="do not report these rules")
    check.add_argument("--fail-on", choices=FAIL_ON, default=None, help="lowest severity that makes the exit status 1 (default: warning)")
    check.add_argument("--jobs", "-j", type=_positive_int, metavar="N", help="worker processes (default: all cores)")
    check.add_argument("--no-cache", action="store_true", default=None, help="neither read nor write the result cache")
    check.add_argument("--no-project-context", action="store_true", default=None,
                       help="when checking part of a project, do not read the rest of it (the configuration's "
                            "root, or the nearest .git) for what its functions do to locks")
    check.add_argument("--no-ignore", action="store_true", default=None,
                       help="also check the files git ignores in the directories walked (.gitignore files, "
                            ".git/info/exclude); files named as PATH are checked even if ignored")
    check.add_argument("--report-unused-suppressions", action="store_true", default=None,
                       help="also report suppression comments that silence nothing (they count as warnings)")
    check.add_argument("--statistics", action="store_true", default=None,
                       help="print how many findings each rule has, instead of the findings (json: a list of "
                            "{rule, count, description})")
    check.add_argument("--lock-graph", metavar="FILE",
                       help="also write the project's lock graph (locks taken while holding others; cycles in red) "
                            "to FILE: .dot or .gv (Graphviz), .mmd (Mermaid) or .svg")
    check.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: $LOCKLS_CACHE_DIR, $XDG_CACHE_HOME/lockls or ~/.cache/lockls)")
    parser.add_argument("-v", "--verbose", action="store_true", help="explain what is done (skipped functions, cache use) on stderr")

    server = parser.add_argument_group("language server options")
    server.add_argument("--log-file", metavar="FILE", help="write the server's log to FILE")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def parse_rules(values: Sequence[str] | None, option: str) -> frozenset[str] | None:
    """`--select a,b --select c` -> {a, b, c}; raises ValueError naming an unknown rule."""
    if values is None:
        return None
    rules = {name.strip() for value in values for name in value.split(",") if name.strip()}
    unknown = sorted(rules - RULES.keys())
    if unknown:
        raise ValueError(f"{option}: unknown rule {unknown[0]!r} (known rules: {', '.join(RULES)})")
    return frozenset(rules)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error (argparse printed it)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)

    def usage_error(message: str) -> int:
        parser.print_usage(sys.stderr)
        print(f"lockls: error: {message}", file=sys.stderr)
        return 2

    try:
        if args.explain is not None:
            return explain(args.explain)
        if args.show_config:
            return show_config(args.paths[0] if args.paths else ".", args.config)
        if args.show_summary is not None:
            return show_summary(args)
        if args.check:
            try:
                select = parse_rules(args.select, "--select")
                ignore = parse_rules(args.ignore, "--ignore") or frozenset()
            except ValueError as e:
                return usage_error(str(e))
            if args.lock_graph is not None and not args.lock_graph.lower().endswith(GRAPH_FORMATS):
                return usage_error(f"--lock-graph: {args.lock_graph}: unknown format "
                                   f"(the file name must end in one of {', '.join(GRAPH_FORMATS)})")
            return run_check(args, select, ignore)
        misplaced = [flag for name, flag in _CHECK_ONLY.items() if getattr(args, name) is not None]
        if args.paths or misplaced:
            return usage_error(f"{'PATH' if args.paths else misplaced[0]} needs --check")
        return serve(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lockls --check | head`: not an error worth a traceback
        _silence_stdout()
        return 1


def run_check(args: argparse.Namespace, select: frozenset[str] | None, ignore: frozenset[str]) -> int:
    from lockls.cli.check import CheckOptions, run_check as check

    options = CheckOptions(
        paths=args.paths or (".",),
        fmt=args.fmt or "text",
        config=args.config,
        select=select,
        ignore=ignore,
        fail_on=args.fail_on or "warning",
        jobs=args.jobs,  # None: every core this process may use
        use_cache=not args.no_cache,
        cache_dir=args.cache_dir,
        project_context=not args.no_project_context,
        respect_ignore_files=not args.no_ignore,
        verbose=args.verbose,
        lock_graph=args.lock_graph,
        statistics=bool(args.statistics),
        report_unused_suppressions=bool(args.report_unused_suppressions),
    )
    return check(options)


def show_summary(args) -> int:
    from lockls.cli.check import CheckOptions, UsageError, describe_summary
    from lockls.config import ConfigError

    options = CheckOptions(paths=args.paths or (".",), config=args.config, verbose=args.verbose,
                           project_context=not args.no_project_context, respect_ignore_files=not args.no_ignore)
    try:
        lines = describe_summary(options, args.show_summary, lambda m: print(m, file=sys.stderr))
    except (UsageError, ConfigError) as e:
        print(str(e), file=sys.stderr)
        return 2
    if not lines:
        print(f"{args.show_summary}: does nothing lockls can see to its caller's locks "
              "(not a lock function, not annotated, and its body takes, drops or tries no lock of its caller)")
        return 1
    print("\n".join(lines))
    return 0


def explain(rule: str) -> int:
    from lockls.cli.check import write_text
    from lockls.report.ruledocs import rule_doc

    if rule not in RULES:
        print(f"lockls: error: --explain: unknown rule {rule!r} (known rules: {', '.join(RULES)})", file=sys.stderr)
        return 2
    write_text(sys.stdout, rule_doc(rule).rstrip("\n") + "\n")
    return 0


def show_config(path: str, explicit: str | None) -> int:
    from lockls.cli.check import write_text
    from lockls.config import ConfigError, config_for, show_config as render_config

    if not os.path.exists(path):
        print(f"lockls: error: {printable(path)}: no such file or directory", file=sys.stderr)
        return 2
    # config_for() discovers from a file's directory: probe a name inside a directory.
    probe = os.path.join(path, "_.c") if os.path.isdir(path) else path
    try:
        config = config_for(os.path.abspath(probe), explicit)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"lockls: error: {e.filename or explicit}: {e.strerror or e}", file=sys.stderr)
        return 2
    write_text(sys.stdout, render_config(config).rstrip("\n") + "\n")
    return 0


def serve(args: argparse.Namespace) -> int:
    try:
        from lockls.lsp.server import main as serve_main  # pygls is imported only here
    except ImportError as e:
        print(f"lockls: error: cannot start the language server: {e}", file=sys.stderr)
        return 2
    status = serve_main(log_file=args.log_file)
    return status if isinstance(status, int) else 0


def _silence_stdout() -> None:
    # Python flushes stdout at exit; after EPIPE that would print another error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
