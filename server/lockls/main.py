"""The `lockls` command line: the commands `check`, `server`, `rule`, `init` and their
flag forms (`--check`, `--stdio`, `--explain`), `--show-config`, `--show-summary`.

Owns: parsing and validating arguments and dispatching to the server or to
`check`; what `lockls` alone does on a terminal (a short help, not a silent wait for
JSON-RPC). Must stay light to import: `--check` never imports pygls or lsprotocol
(the server is imported only when it is the command being run), nor the
analysis until a file actually needs analysing.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence

from lockls import __version__
from lockls.files import printable
from lockls.report.formats import FORMATS
from lockls.dataflow.lockgraph import GRAPH_FORMATS
from lockls.catalogue import RULES
from lockls.cli.terminal import COLOR_CHOICES, SHORT_HELP, is_terminal, show_context, use_color

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
    "stdin_filename": "--stdin-filename",
    "color": "--color",
    "show_context": "--show-context",
    "baseline": "--baseline",
    "update_baseline": "--update-baseline",
    "add_suppressions": "--add-suppressions",
    "fix": "--fix",
    "diff": "--diff",
    "unsafe_fixes": "--unsafe-fixes",
}

# `lockls COMMAND ...`, in the ruff style; each has a flag form that keeps working
COMMANDS = ("check", "server", "rule", "init")

USAGE = """\
%(prog)s {check,server,rule,init} ...
       %(prog)s [--check | --stdio | --explain RULE | --show-summary FUNCTION | --show-config] [options] [PATH ...]"""

DESCRIPTION = """\
Finds lock bugs in C.

commands (`lockls COMMAND --help` for each; the flag forms keep working):
  check [PATH ...]  analyse files and directories (default .) and print findings
                    (= --check)
  server            run the language server on stdin/stdout (= --stdio); `lockls`
                    alone does too when stdin is not a terminal (editors start it so)
  rule NAME         print a rule's documentation (= --explain NAME)
  init [PATH]       write a starting .lockls.toml in PATH (default .); --force
                    replaces one"""

CHECK_DESCRIPTION = """\
Analyses PATHs (files and directories: *.c and *.h, recursively; default .) and
prints the findings: in text, `path:line:column: severity: message [rule]`, one a
line, columns counted in bytes from 1 (as clang prints them and Vim reads them);
on a terminal also the source line with a caret under the finding and `note:`
lines for its related places (where the lock was taken), in colour."""


def _epilog() -> str:
    return textwrap.fill(f"Rules: {', '.join(RULES)}.", 88, break_on_hyphens=False) + "\n\n" + textwrap.fill(
        "Exit status: 0 no findings at or above --fail-on, 1 findings, 2 usage or configuration error.", 88)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `lockls` (`command` None), of `lockls check`, or of another command."""
    if command in ("server", "rule", "init"):
        return _command_parser(command)
    checking = command == "check"
    parser = argparse.ArgumentParser(
        prog="lockls check" if checking else "lockls",
        usage=None if checking else USAGE,
        description=CHECK_DESCRIPTION if checking else DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lockls {__version__}")
    if checking:  # the modes below, as `lockls check` means them
        parser.set_defaults(check=True, stdio=False, explain=None, show_summary=None, show_config=False, log_file=None)
    else:
        mode = parser.add_argument_group("modes")
        mode.add_argument("--stdio", action="store_true",
                          help="run the language server on stdin/stdout (the default when stdin is not a terminal)")
        mode.add_argument("--check", action="store_true", help="analyse PATHs (files and directories; default .) and print findings")
        mode.add_argument("--explain", metavar="RULE", help="print a rule's documentation")
        mode.add_argument("--show-summary", metavar="FUNCTION",
                          help="print what FUNCTION does to its caller's locks, as inferred or declared in PATHs, and why")
        mode.add_argument("--show-config", action="store_true", help="print the effective configuration (presets included) for PATH or .")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to check" + ("" if checking else " (with --check)"))

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
    check.add_argument("--stdin-filename", metavar="PATH",
                       help="check the C source read from stdin as the file PATH (its configuration, and the rest "
                            "of its project from disk, as for PATH; nothing cached): for editors' linters")
    check.add_argument("--color", choices=COLOR_CHOICES, default=None,
                       help="colour text output (default: auto, on a terminal unless NO_COLOR is set; "
                            "FORCE_COLOR or CLICOLOR_FORCE turn it on)")
    check.add_argument("--show-context", action=argparse.BooleanOptionalAction, default=None,
                       help="in text, follow each finding with its source line, a caret under it and `note:` lines "
                            "for its related places (default: on a terminal, or with colour)")
    check.add_argument("--baseline", metavar="FILE",
                       help="report (and fail on) only findings not recorded in FILE (a JSON baseline; its entries "
                            "name file, function, rule, lock and statement, not lines, so they survive edits above)")
    check.add_argument("--update-baseline", action="store_true", default=None,
                       help="record the findings of this run in the --baseline FILE instead of reporting them (exit 0)")
    check.add_argument("--add-suppressions", action="store_true", default=None,
                       help="write a `lockls: ignore[rule]` comment on the line of every finding reported (added to "
                            "the line's existing one; a `// lockls: ignore-next-line[rule]` line above it where a "
                            "comment cannot end the line)")
    check.add_argument("--fix", action="store_true", default=None,
                       help="apply the safe fixes (the editor's quick-fixes that cannot change what correct code "
                            "does: removing a lock or unlock call that repeats the statement before it), re-check "
                            "and report what is left")
    check.add_argument("--unsafe-fixes", action="store_true", default=None,
                       help="with --fix or --diff, also apply the unsafe fixes: inserting the missing release before "
                            "a return, jumping to a cleanup label, replacing a second lock before a return or destroy "
                            "with its unlock, removing a lock or unlock call. Never applied: the fixes of a finding on "
                            "some paths only (\"may ...\"), suppression comments (--add-suppressions)")
    check.add_argument("--diff", action="store_true", default=None,
                       help="print the fixes --fix would apply as a unified diff, write nothing (exit 1 when there "
                            "are some)")
    parser.add_argument("-v", "--verbose", action="store_true", help="explain what is done (skipped functions, cache use) on stderr")

    if not checking:
        server = parser.add_argument_group("language server options")
        server.add_argument("--log-file", metavar="FILE", help="write the server's log to FILE")
    return parser


def _command_parser(command: str) -> argparse.ArgumentParser:
    """`lockls server`, `lockls rule` and `lockls init`."""
    if command == "server":
        parser = argparse.ArgumentParser(
            prog="lockls server", description="Runs the language server on stdin/stdout (JSON-RPC), as editors start it.")
        parser.add_argument("--log-file", metavar="FILE", help="write the server's log to FILE")
        parser.add_argument("--stdio", action="store_true", help="accepted (some clients add it) and changes nothing")
    elif command == "rule":
        parser = argparse.ArgumentParser(prog="lockls rule", description="Prints a rule's documentation.",
                                         epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("rule", metavar="NAME", help="the rule, e.g. lock-leak")
    else:
        parser = argparse.ArgumentParser(
            prog="lockls init",
            description="Writes a starting .lockls.toml in PATH, with the presets its C files use.")
        parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the project's directory (default: .)")
        parser.add_argument("--force", action="store_true", help="replace an existing configuration file")
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
        raise ValueError(f"{option}: {unknown_rule(unknown[0])}")
    return frozenset(rules)


def unknown_rule(name: str) -> str:
    """`unknown rule 'lock-lek' (did you mean 'lock-leak'?)`, or the known rules when
    none is close."""
    import difflib

    near = difflib.get_close_matches(name.lower(), list(RULES), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}?" if near else f"known rules: {', '.join(RULES)}"
    return f"unknown rule {name!r} ({hint})"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv[1:] if command else argv)
    except SystemExit as e:  # --help, --version, or a usage error (argparse printed it)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)

    def usage_error(message: str) -> int:
        parser.print_usage(sys.stderr)
        print(f"lockls: error: {message}", file=sys.stderr)
        return 2

    try:
        if command == "server":
            return serve(args)
        if command == "rule":
            return explain(args.rule, "rule")
        if command == "init":
            return init(args)
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
            if args.stdin_filename is not None and args.paths:
                return usage_error("--stdin-filename: no PATH with it (the file is read from stdin)")
            problem = _adoption_options_problem(args)
            if problem is not None:
                return usage_error(problem)
            return run_check(args, select, ignore)
        misplaced = [flag for name, flag in _CHECK_ONLY.items() if getattr(args, name) is not None]
        if args.paths or misplaced:
            return usage_error(f"{'PATH' if args.paths else misplaced[0]} needs --check")
        if not args.stdio and is_terminal(sys.stdin):  # typed by hand: JSON-RPC is not what is wanted
            sys.stderr.write(SHORT_HELP)
            return 2
        return serve(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lockls --check | head`: not an error worth a traceback
        _silence_stdout()
        return 1


def run_check(args: argparse.Namespace, select: frozenset[str] | None, ignore: frozenset[str]) -> int:
    from lockls.cli.check import CheckOptions, run_check as check

    stdin_text = None
    if args.stdin_filename is not None:
        from lockls.cli.stdin import read_stdin
        from lockls.files import UsageError

        try:
            stdin_text = read_stdin()
        except UsageError as e:
            print(str(e), file=sys.stderr)
            return 2
    fmt = args.fmt or "text"
    color = fmt == "text" and use_color(args.color, sys.stdout)
    options = CheckOptions(
        paths=(args.stdin_filename,) if args.stdin_filename is not None else (args.paths or (".",)),
        stdin_filename=args.stdin_filename,
        stdin_text=stdin_text,
        color=color,
        context=fmt == "text" and show_context(args.show_context, color, sys.stdout),
        fmt=fmt,
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
        baseline=args.baseline,
        update_baseline=bool(args.update_baseline),
        add_suppressions=bool(args.add_suppressions),
        fix=bool(args.fix),
        diff=bool(args.diff),
        unsafe_fixes=bool(args.unsafe_fixes),
    )
    return check(options)


def _adoption_options_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of --baseline, --update-baseline,
    --add-suppressions, --fix and --diff, if anything: each writes (or shows) one thing."""
    if args.update_baseline and args.baseline is None:
        return "--update-baseline needs --baseline FILE"
    writers = [flag for flag, on in (("--update-baseline", args.update_baseline),
                                     ("--add-suppressions", args.add_suppressions),
                                     ("--fix", args.fix), ("--diff", args.diff)) if on]
    if len(writers) > 1:
        return f"{writers[0]} and {writers[1]} cannot be used together"
    if writers and args.stdin_filename is not None:
        return f"{writers[0]} cannot be used with --stdin-filename (it works on the files on disk)"
    if args.unsafe_fixes and not (args.fix or args.diff):
        return "--unsafe-fixes needs --fix or --diff"
    return None


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


def explain(rule: str, command: str | None = None) -> int:
    """`--explain RULE`, or `lockls rule RULE` (`command`: "rule")."""
    from lockls.cli.check import write_text
    from lockls.report.ruledocs import rule_doc

    if rule not in RULES:
        where = f"lockls {command}: error: " if command else "lockls: error: --explain: "
        print(where + unknown_rule(rule), file=sys.stderr)
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


def init(args: argparse.Namespace) -> int:
    from lockls.cli.init import run_init

    return run_init(args.path, args.force, sys.stdout, sys.stderr)


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
