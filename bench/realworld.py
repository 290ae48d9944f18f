#!/usr/bin/env python3
"""Run `lockls --check` on real C source trees and report what it finds, skips and costs.

A calibration bench: the trees are listed in `bench/realworld.toml` (one
`[[tree]]` table each: name, repository, commit, path, optional config) and must
already be on disk; absent ones are skipped with a message. For each tree
present, the CLI is run as a subprocess from the tree's root,

    lockls --check --no-cache --jobs N --format json -v [--config F] .

(`--reps` times, the wall time reported is the median), its `-v` output is read
for the summary and the skipped functions, and every file it checks is then read
and parsed with tree-sitter in-process (the floor: parse-only, median too).
Printed per tree: files, functions, functions skipped by reason, findings per
rule and per 1,000 functions, wall time, parse-only time and their ratio.
Written to `--out`: `<name>.json` (the findings, paths relative to the tree)
and `summary.json` (the statistics, with every skipped function).

`--compare OLD_DIR` then sets the findings against those of a previous `--out`
directory, matching them by path, line, rule and message (line numbers inside
the message ignored), and lists what went away and what is new for review.

Usage (from the repository root, with the project's virtualenv active):

    python bench/realworld.py                        # every tree present, one job
    python bench/realworld.py --trees memcached,glib --jobs 2 --reps 3 --markdown
    python bench/realworld.py --out /tmp/after --compare /tmp/lockls-realworld
    python bench/realworld.py --no-run --out /tmp/after --compare /tmp/before

Trees live in `$LOCKLS_TREES/<name>` (default /work/trees) unless a table gives
`path` (`~` and `$VARS` expanded, relative to the manifest's directory). A tree's
`config` is written to a temporary `.lockls.toml` and passed with `--config`, so
`[files]` globs in it are relative to that temporary directory, not the tree.
The output directory defaults to /tmp/lockls-realworld (`bench/out/`, also fine,
is ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_speed import lockls_command  # noqa: E402  (how to run lockls: one answer for both benches)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MANIFEST = os.path.join(HERE, "realworld.toml")
DEFAULT_OUT = "/tmp/lockls-realworld"
DEFAULT_TREES = "/work/trees"
MAX_CONFIG_LINES = 30
SUMMARY_FILE = "summary.json"

TREE_KEYS = {"name", "repository", "commit", "path", "config"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
COMMIT = re.compile(r"[0-9a-f]{40}\Z")


class BenchError(Exception):
    """A problem that stops the bench (bad manifest, bad arguments): exit status 2."""


# -- the manifest -------------------------------------------------------------------

@dataclass
class Tree:
    name: str
    repository: str
    commit: str
    path: str
    config: Optional[str] = None  # .lockls.toml text


def load_manifest(manifest: str) -> list[Tree]:
    """The trees `manifest` lists, checked; raises BenchError saying what is wrong."""
    try:
        with open(manifest, "rb") as f:
            document = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BenchError(f"{manifest}: {e}") from None
    tables = document.get("tree", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise BenchError(f"{manifest}: expected [[tree]] tables")
    trees = [_tree(table, os.path.dirname(os.path.abspath(manifest)), f"{manifest}: tree {i + 1}")
             for i, table in enumerate(tables)]
    names = Counter(t.name for t in trees)
    twice = sorted(n for n, count in names.items() if count > 1)
    if twice:
        raise BenchError(f"{manifest}: tree names listed twice: {', '.join(twice)}")
    return trees


def _tree(table: dict, base: str, where: str) -> Tree:
    unknown = sorted(set(table) - TREE_KEYS)
    if unknown:
        raise BenchError(f"{where}: unknown key(s) {', '.join(unknown)}")
    name = _field(table, "name", NAME, where)
    repository = _field(table, "repository", REPOSITORY, where)
    commit = _field(table, "commit", COMMIT, where)
    config = table.get("config")
    if config is not None and not isinstance(config, str):
        raise BenchError(f"{where}: config: expected a string")
    if config is not None and len(config.splitlines()) > MAX_CONFIG_LINES:
        raise BenchError(f"{where}: config: more than {MAX_CONFIG_LINES} lines")
    path = table.get("path")
    if path is not None and not isinstance(path, str):
        raise BenchError(f"{where}: path: expected a string")
    return Tree(name, repository, commit, tree_path(name, path, base), config)


def _field(table: dict, key: str, pattern: re.Pattern, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise BenchError(f"{where}: {key}: expected a string like {pattern.pattern!r}, got {value!r}")
    return value


def tree_path(name: str, path: Optional[str], base: str) -> str:
    """Where a tree lives: `path` (expanded, relative to `base`) or $LOCKLS_TREES/<name>."""
    if path is None:
        return os.path.join(os.environ.get("LOCKLS_TREES") or DEFAULT_TREES, name)
    return os.path.normpath(os.path.join(base, os.path.expandvars(os.path.expanduser(path))))


def select_trees(trees: list[Tree], names: Optional[str]) -> list[Tree]:
    """The trees named in `names` ("a,b"; None: all), in the manifest's order."""
    if not names:
        return trees
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {t.name for t in trees})
    if unknown:
        raise BenchError(f"unknown tree(s): {', '.join(unknown)} (known: {', '.join(t.name for t in trees)})")
    return [t for t in trees if t.name in wanted]


# -- running lockls -----------------------------------------------------------------

@dataclass
class CliRun:
    findings: list[dict]
    stderr: str
    seconds: float  # median wall time
    stable: bool  # every repetition printed the same findings


def check_command(lockls: list[str], jobs: int, config_file: Optional[str]) -> list[str]:
    config = ["--config", config_file] if config_file else []
    return [*lockls, "--check", "--no-cache", "--jobs", str(jobs), "--format", "json", "-v", *config, "."]


def run_cli(command: list[str], cwd: str, reps: int) -> CliRun:
    """Run `command` in `cwd` `reps` times; exit 0 or 1 is success, anything else BenchError."""
    seconds, outputs, stderr = [], [], ""
    for _ in range(reps):
        started = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        except OSError as e:
            raise BenchError(f"cannot run {command[0]}: {e}") from None
        seconds.append(time.perf_counter() - started)
        if proc.returncode not in (0, 1):
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise BenchError(f"lockls exited with {proc.returncode}: {last}")
        outputs.append(proc.stdout)
        stderr = proc.stderr
    try:
        findings = json.loads(outputs[-1])
    except ValueError:
        raise BenchError("lockls printed something that is not JSON") from None
    return CliRun(findings, stderr, statistics.median(seconds), len(set(outputs)) == 1)


# -- reading the -v output ------------------------------------------------------------

SUMMARY = re.compile(
    r"^lockls: (?P<files>\d+) files?, (?P<functions>\d+) functions?, (?P<findings>\d+) findings?"
    r"(?: \([^)]*\))?(?:, (?P<skipped>\d+) functions? skipped)?"
    r"(?:, (?P<partial>\d+) functions? partly analysed \(-v says which\))?"
    r"(?:, (?P<failed>\d+) files? not analysed)? in [\d.]+ s$",
    re.M,
)
SKIPPED = re.compile(r"^lockls: (?P<path>.+?): skipped (?P<function>.+?) \(line (?P<line>\d+)\): (?P<reason>.*)$", re.M)
FILE_ERROR = re.compile(r"^(?!lockls: )(?P<path>.+?): error: (?P<message>.*)$", re.M)

# Skip reasons by category, first match wins (see lockls.engine.function and lockls.lowering.build_cfg).
SKIP_CATEGORIES = (
    ("unreadable definition", re.compile(r"could not read this definition")),
    ("unbalanced braces", re.compile(r"^unbalanced braces")),
    ("unparsable code", re.compile(r"unparsable code|misread|could not read|without a lock")),
    ("no fixpoint", re.compile(r"^no fixpoint")),
    ("too deeply nested", re.compile(r"^too deeply nested")),
    ("internal error", re.compile(r"^internal error")),
)


@dataclass
class Summary:
    files: int
    functions: int  # analysed (skipped ones not included)
    skipped: int
    files_not_analysed: int


def parse_summary(stderr: str) -> Summary:
    """The counts of lockls's last summary line; raises BenchError if there is none."""
    found = list(SUMMARY.finditer(stderr))
    if not found:
        raise BenchError("no summary line in lockls's output")
    m = found[-1]
    return Summary(int(m["files"]), int(m["functions"]), int(m["skipped"] or 0), int(m["failed"] or 0))


def skip_category(reason: str) -> str:
    return next((name for name, pattern in SKIP_CATEGORIES if pattern.search(reason)), "other")


def skipped_functions(stderr: str) -> list[dict]:
    """Every `skipped` line of the -v output: path, function, line, reason, category."""
    return [
        {"path": m["path"], "function": m["function"], "line": int(m["line"]),
         "reason": m["reason"], "category": skip_category(m["reason"])}
        for m in SKIPPED.finditer(stderr)
    ]


def file_errors(stderr: str) -> list[str]:
    """The `path: error: message` lines (files lockls could not analyse)."""
    return [m.group(0) for m in FILE_ERROR.finditer(stderr)]


# -- parse-only ---------------------------------------------------------------------

def checked_files(root: str, config_file: Optional[str]) -> list[str]:
    """The files `lockls --check [--config F] root` analyses: *.c and *.h not excluded."""
    from lockls.cli.check import expand_paths
    from lockls.config import clear_config_cache, config_for

    clear_config_cache()
    files = []
    for path, _given, explicit in expand_paths([root]):
        if explicit or config_for(path, config_file).is_included(path):
            files.append(path)
    return files


def time_parse(files: list[str], reps: int) -> float:
    """Median seconds to read and tree-sitter-parse every file of `files`."""
    from lockls.syntax.nodes import new_parser

    parser = new_parser()
    seconds = []
    for _ in range(reps):
        started = time.perf_counter()
        for path in files:
            with open(path, "rb") as f:
                parser.parse(f.read())
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


# -- one tree -------------------------------------------------------------------------

@dataclass
class TreeStats:
    name: str
    repository: str
    commit: str
    path: str
    files: int = 0
    functions: int = 0
    skipped_functions: int = 0
    skipped_by_category: dict[str, int] = field(default_factory=dict)
    files_not_analysed: int = 0
    findings: int = 0
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    findings_per_1000_functions: float = 0.0
    wall_seconds: float = 0.0
    parse_seconds: float = 0.0
    ratio: Optional[float] = None  # wall / parse-only
    stable: bool = True
    skipped: list[dict] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)


def measure_tree(tree: Tree, lockls: list[str], jobs: int, reps: int) -> tuple[TreeStats, list[dict]]:
    """Check and time one tree: its statistics and its findings."""
    with tempfile.TemporaryDirectory(prefix="lockls-realworld-") as tmp:
        config_file = _write_config(tree.config, tmp)
        run = run_cli(check_command(lockls, jobs, config_file), tree.path, reps)
        parse_seconds = time_parse(checked_files(tree.path, config_file), reps)
    return tree_stats(tree, run, parse_seconds), run.findings


def _write_config(text: Optional[str], directory: str) -> Optional[str]:
    if text is None:
        return None
    path = os.path.join(directory, ".lockls.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def tree_stats(tree: Tree, run: CliRun, parse_seconds: float) -> TreeStats:
    summary = parse_summary(run.stderr)
    skipped = skipped_functions(run.stderr)
    by_rule = Counter(f["rule"] for f in run.findings)
    return TreeStats(
        name=tree.name, repository=tree.repository, commit=tree.commit, path=tree.path,
        files=summary.files,
        functions=summary.functions,
        skipped_functions=summary.skipped,
        skipped_by_category=dict(Counter(s["category"] for s in skipped).most_common()),
        files_not_analysed=summary.files_not_analysed,
        findings=len(run.findings),
        findings_by_rule=dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        findings_per_1000_functions=per_thousand(len(run.findings), summary.functions),
        wall_seconds=run.seconds,
        parse_seconds=parse_seconds,
        ratio=run.seconds / parse_seconds if parse_seconds > 0 else None,
        stable=run.stable,
        skipped=skipped,
        file_errors=file_errors(run.stderr),
    )


def per_thousand(count: int, functions: int) -> float:
    return 1000.0 * count / functions if functions else 0.0


# -- reports ------------------------------------------------------------------------

def counts_text(counts: dict[str, int]) -> str:
    """`{"lock-leak": 3, "double-lock": 1}` -> "lock-leak 3, double-lock 1"."""
    return ", ".join(f"{key} {n}" for key, n in counts.items())


def with_details(total: int, counts: dict[str, int]) -> str:
    return f"{total} ({counts_text(counts)})" if counts else str(total)


def ratio_text(ratio: Optional[float]) -> str:
    return "—" if ratio is None else f"{ratio:.1f}×"


def format_tree(s: TreeStats) -> str:
    lines = [
        f"{s.name} ({s.repository} @ {s.commit[:12]}, {s.path})",
        f"  files {s.files}, functions {s.functions}, "
        f"skipped {with_details(s.skipped_functions, s.skipped_by_category)}",
        f"  findings {with_details(s.findings, s.findings_by_rule)}; "
        f"{s.findings_per_1000_functions:.1f} per 1,000 functions",
        f"  wall {s.wall_seconds:.2f} s, parse-only {s.parse_seconds:.2f} s, ratio {ratio_text(s.ratio)}",
    ]
    if s.files_not_analysed:
        lines.append(f"  files not analysed: {s.files_not_analysed}")
        lines.extend(f"    {e}" for e in s.file_errors)
    if not s.stable:
        lines.append("  warning: the findings differed between repetitions")
    return "\n".join(lines)


MARKDOWN_HEADER = (
    "| tree | files | functions | skipped | findings | per 1k functions | by rule | wall | parse-only | ratio |\n"
    "|---|---:|---:|---|---:|---:|---|---:|---:|---:|"
)


def format_markdown(stats: list[TreeStats]) -> str:
    rows = [_markdown_row(s.name, s) for s in stats]
    if len(stats) > 1:
        rows.append(_markdown_row("**total**", total_stats(stats)))
    return "\n".join([MARKDOWN_HEADER, *rows])


def _markdown_row(label: str, s: TreeStats) -> str:
    cells = [
        label, f"{s.files:,}", f"{s.functions:,}", with_details(s.skipped_functions, s.skipped_by_category),
        f"{s.findings:,}", f"{s.findings_per_1000_functions:.1f}", counts_text(s.findings_by_rule) or "—",
        f"{s.wall_seconds:.2f} s", f"{s.parse_seconds:.2f} s", ratio_text(s.ratio),
    ]
    return "| " + " | ".join(cells) + " |"


def total_stats(stats: list[TreeStats]) -> TreeStats:
    """The sums over `stats` (rates and the ratio recomputed from the sums)."""
    total = TreeStats("total", "", "", "")
    skipped, rules = Counter(), Counter()
    for s in stats:
        total.files += s.files
        total.functions += s.functions
        total.skipped_functions += s.skipped_functions
        total.findings += s.findings
        total.wall_seconds += s.wall_seconds
        total.parse_seconds += s.parse_seconds
        skipped.update(s.skipped_by_category)
        rules.update(s.findings_by_rule)
    total.skipped_by_category = dict(skipped.most_common())
    total.findings_by_rule = dict(sorted(rules.items(), key=lambda kv: (-kv[1], kv[0])))
    total.findings_per_1000_functions = per_thousand(total.findings, total.functions)
    total.ratio = total.wall_seconds / total.parse_seconds if total.parse_seconds > 0 else None
    return total


# -- output files -------------------------------------------------------------------

def write_json(path: str, data) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


def read_findings(out: str, name: str) -> Optional[list[dict]]:
    """The findings a previous run wrote for tree `name` in `out`, or None."""
    try:
        with open(os.path.join(out, f"{name}.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def summary_document(stats: list[TreeStats], absent: list[str], failed: dict[str, str],
                     lockls: list[str], jobs: int, reps: int) -> dict:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "lockls": lockls,
        "jobs": jobs,
        "reps": reps,
        "python": sys.version.split()[0],
        "trees": [asdict(s) for s in stats],
        "absent": absent,
        "failed": failed,
    }


# -- comparing with a previous run --------------------------------------------------

LINE_IN_MESSAGE = re.compile(r"\blines? \d+")


def finding_key(f: dict) -> tuple:
    """What identifies a finding across runs: path, line, rule and message with its line numbers blanked."""
    return f.get("path"), f.get("line"), f.get("rule"), LINE_IN_MESSAGE.sub("line _", f.get("message", ""))


@dataclass
class Comparison:
    kept: int
    gone: list[dict]
    new: list[dict]


def compare(old: list[dict], new: list[dict]) -> Comparison:
    """Match findings by `finding_key`, as multisets (two equal findings count twice)."""
    old_keys, new_keys = Counter(map(finding_key, old)), Counter(map(finding_key, new))
    return Comparison(
        kept=sum((old_keys & new_keys).values()),
        gone=_unmatched(old, new_keys),
        new=_unmatched(new, old_keys),
    )


def _unmatched(findings: list[dict], other: Counter) -> list[dict]:
    left, out = Counter(other), []
    for f in findings:
        key = finding_key(f)
        if left[key]:
            left[key] -= 1
        else:
            out.append(f)
    return out


def format_finding(f: dict) -> str:
    return f"{f.get('path')}:{f.get('line')} {f.get('rule')} {f.get('message')}"


def format_comparison(name: str, c: Optional[Comparison]) -> str:
    if c is None:
        return f"{name}: no previous findings to compare with"
    lines = [f"{name}: kept {c.kept}, gone {len(c.gone)}, new {len(c.new)}"]
    lines.extend(f"  - {format_finding(f)}" for f in c.gone)
    lines.extend(f"  + {format_finding(f)}" for f in c.new)
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=DEFAULT_MANIFEST, metavar="FILE",
                    help="the list of trees (default: bench/realworld.toml)")
    ap.add_argument("--trees", metavar="NAME,...", help="only these trees (default: every tree listed)")
    ap.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                    help=f"where to write <name>.json and {SUMMARY_FILE} (default: {DEFAULT_OUT})")
    ap.add_argument("--jobs", type=int, default=1, metavar="N", help="lockls worker processes (default: 1)")
    ap.add_argument("--lockls", metavar="CMD", help="how to run lockls (default: the venv's `lockls`)")
    ap.add_argument("--reps", type=int, default=1, metavar="N", help="runs per tree; times are medians (default: 1)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table of every tree")
    ap.add_argument("--compare", metavar="OLD_DIR", help="compare the findings with those of a previous --out")
    ap.add_argument("--no-run", action="store_true",
                    help="with --compare: compare the findings already in --out, without running lockls")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.reps < 1:
        ap.error("--jobs and --reps must be at least 1")
    if args.no_run and not args.compare:
        ap.error("--no-run needs --compare")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    """Exit status: 0 every tree present was checked; 1 lockls failed on one; 2 usage error."""
    args = parse_args(argv)
    try:
        trees = select_trees(load_manifest(args.manifest), args.trees)
    except BenchError as e:
        print(f"realworld: error: {e}", file=sys.stderr)
        return 2
    if args.no_run:
        return compare_only(trees, args.compare, args.out)
    return run_bench(trees, args)


def log(message: str) -> None:
    print(f"realworld: {message}", file=sys.stderr, flush=True)


def run_bench(trees: list[Tree], args: argparse.Namespace) -> int:
    lockls = lockls_command(args.lockls)
    os.makedirs(args.out, exist_ok=True)
    stats, absent, failed, comparisons = [], [], {}, {}
    for tree in trees:
        if not os.path.isdir(tree.path):
            log(f"{tree.name}: not on disk at {tree.path}: skipped")
            absent.append(tree.name)
            continue
        log(f"{tree.name}: checking {tree.path}")
        try:
            tree_result, findings = measure_tree(tree, lockls, args.jobs, args.reps)
        except BenchError as e:
            log(f"{tree.name}: failed: {e}")
            failed[tree.name] = str(e)
            continue
        if args.compare:  # read before writing: OLD_DIR may be --out itself
            comparisons[tree.name] = _compare_with(args.compare, tree.name, findings)
        write_json(os.path.join(args.out, f"{tree.name}.json"), findings)
        stats.append(tree_result)
        print(format_tree(tree_result), end="\n\n", flush=True)
    write_json(os.path.join(args.out, SUMMARY_FILE),
               summary_document(stats, absent, failed, lockls, args.jobs, args.reps))
    _print_reports(stats, comparisons, args)
    return 1 if failed else 0


def _compare_with(old_dir: str, name: str, findings: list[dict]) -> Optional[Comparison]:
    old = read_findings(old_dir, name)
    return None if old is None else compare(old, findings)


def _print_reports(stats: list[TreeStats], comparisons: dict, args: argparse.Namespace) -> None:
    if not stats:
        print("no tree was checked")
    if args.markdown and stats:
        print(format_markdown(stats), end="\n\n")
    if comparisons:
        print(f"compared with {args.compare}:")
        for name, comparison in comparisons.items():
            print(format_comparison(name, comparison))
    print(f"findings and {SUMMARY_FILE} written to {args.out}")


def compare_only(trees: list[Tree], old_dir: str, new_dir: str) -> int:
    """`--no-run`: compare two output directories tree by tree."""
    print(f"{new_dir} compared with {old_dir}:")
    for tree in trees:
        new = read_findings(new_dir, tree.name)
        if new is None:
            continue  # this tree was not checked in the new run
        print(format_comparison(tree.name, _compare_with(old_dir, tree.name, new)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
