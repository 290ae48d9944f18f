#!/usr/bin/env python3
"""Measure how fast `lockls --check` is, against the cost of parsing alone.

One run generates a corpus of each profile of bench/generate.py (plain,
annotated, kernel; 200k lines each by default; `--profiles` picks some) into a
temporary directory, or uses `--corpus DIR`, then times, N times each, and
reports the medians, per profile:

  parse-only         read + tree-sitter parse of every file, in-process (the floor)
  analysis           lockls.engine.driver.analyze_source over every file, in-process
  check, jobs 1      `lockls --check --jobs 1 --no-cache --format json CORPUS`, wall time
  check, warm cache  the same with a warm cache (a temporary LOCKLS_CACHE_DIR)
  check, jobs 2      `lockls --check --jobs 2 --no-cache ...`
  start-up           `lockls --check --no-cache` on one small file

and checks the targets: analysis / parse-only <= 2x, cold / warm >= 20x,
start-up < 0.3 s (start-up is measured once: it does not depend on the
profile). Nothing is subtracted from the wall times. A measurement that cannot
run (no CLI yet, analysis stubbed) is reported as such; the rest still runs.
With several profiles a summary table, one row per profile, ends the report.

Usage:
    python bench/check_speed.py [--profiles plain annotated kernel] [--corpus DIR]
                                [--lines 200000] [--files 100] [--reps 5] [--seed 1]
                                [--quick] [--lockls CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))

TARGET_ANALYSIS_RATIO = 2.0  # analysis / parse-only, at most
TARGET_CACHE_RATIO = 20.0  # cold / warm, at least
TARGET_STARTUP = 0.3  # seconds, at most

SMALL_FILE = """\
#include <pthread.h>

struct counter {
    pthread_mutex_t lock;
    long value;
};

long counter_add(struct counter *c, long delta)
{
    long now;

    if (delta == 0)
        return 0;
    pthread_mutex_lock(&c->lock);
    c->value += delta;
    now = c->value;
    pthread_mutex_unlock(&c->lock);
    return now;
}
"""


@dataclass
class Measurement:
    """Repeated timings of one thing; `error` says why there are none."""

    label: str
    samples: list[float] = field(default_factory=list)
    error: Optional[str] = None
    note: str = ""
    comparable: bool = True  # False: a ratio to parse-only would mean nothing (start-up)

    @property
    def median(self) -> Optional[float]:
        if self.error or not self.samples:
            return None
        return statistics.median(self.samples)


# -- formatting (pure; the smoke test exercises it with fake timings) ----------------

def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def format_ratio(r: Optional[float]) -> str:
    return "n/a" if r is None else f"{r:.1f}×"


def format_table(measurements: list[Measurement], baseline: Measurement) -> str:
    """A Markdown table: measurement, median, ratio to the baseline (parse-only)."""
    rows = ["| measurement | median | vs parse-only |", "|---|---:|---:|"]
    for m in measurements:
        if m.error:
            median, vs = f"failed: {m.error}", ""
        else:
            median = format_seconds(m.median)
            vs = format_ratio(ratio(m.median, baseline.median)) if m.comparable else "—"
            if m.note:
                median += f" ({m.note})"
        rows.append(f"| {m.label} | {median} | {vs} |")
    return "\n".join(rows)


def _verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def format_targets(parse: Measurement, analysis: Measurement, cold: Measurement,
                   warm: Measurement, startup: Measurement) -> str:
    """The key ratios against their targets, one per line."""
    # The in-process analysis is the fair comparison (both sides read and parse
    # the same files in one process); fall back to the CLI when it is unavailable.
    analysed = analysis if analysis.median is not None else cold
    a = ratio(analysed.median, parse.median)
    c = ratio(cold.median, warm.median)
    s = startup.median
    lines = [
        f"analysis / parse-only: {format_ratio(a)} (target <= {TARGET_ANALYSIS_RATIO:g}×, "
        f"from '{analysed.label}') {_verdict(None if a is None else a <= TARGET_ANALYSIS_RATIO)}",
        f"cold / warm cache: {format_ratio(c)} (target >= {TARGET_CACHE_RATIO:g}×) "
        f"{_verdict(None if c is None else c >= TARGET_CACHE_RATIO)}",
        f"start-up on one small file: {format_seconds(s)} (target < {TARGET_STARTUP:g} s) "
        f"{_verdict(None if s is None else s < TARGET_STARTUP)}",
    ]
    return "\n".join(lines)


# -- the corpus -------------------------------------------------------------------

def c_files(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith((".c", ".h"))]
    return found


def corpus_stats(files: list[str]) -> tuple[int, int]:
    lines = size = 0
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        lines += data.count(b"\n")
        size += len(data)
    return lines, size


# -- measurements ---------------------------------------------------------------------

def repeat(label: str, reps: int, once: Callable[[], None]) -> Measurement:
    m = Measurement(label)
    for _ in range(reps):
        start = time.perf_counter()
        try:
            once()
        except Exception as e:  # report and go on with the other measurements
            m.error = f"{type(e).__name__}: {e}".splitlines()[0][:120]
            return m
        m.samples.append(time.perf_counter() - start)
    return m


def measure_parse(files: list[str], reps: int) -> Measurement:
    import tree_sitter_c
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_c.language()))

    def once():
        for path in files:
            with open(path, "rb") as f:
                parser.parse(f.read())

    return repeat("parse-only (read + tree-sitter parse, in-process)", reps, once)


def _analyze_source() -> Callable:
    """lockls's in-process entry point, wherever this version keeps it."""
    import importlib

    for module in ("lockls.engine.driver", "lockls.analysis"):
        try:
            found = getattr(importlib.import_module(module), "analyze_source", None)
        except ImportError:
            continue
        if found is not None:
            return found
    raise ImportError("no analyze_source in lockls.engine.driver or lockls.analysis")


def measure_analysis(files: list[str], reps: int) -> Measurement:
    label = "analysis (read + analyze_source, in-process)"
    try:
        from lockls import config as lconfig
        analyze_source = _analyze_source()
    except Exception as e:
        return Measurement(label, error=f"cannot import lockls: {e}")
    # Configuration lookup is not analysis: resolve it before timing.
    configs = {}
    for path in files:
        if hasattr(lconfig, "config_for"):
            configs[path] = lconfig.config_for(path)
        elif hasattr(lconfig, "default_config"):
            configs[path] = lconfig.default_config()
        else:
            configs[path] = lconfig.Config()
    findings = []

    def once():
        findings.clear()
        for path in files:
            with open(path, "rb") as f:
                result = analyze_source(f.read(), path, configs[path])
            findings.extend(result.findings)

    m = repeat(label, reps, once)
    if not m.error:
        m.note = f"{len(findings)} findings"
    return m


def lockls_command(explicit: Optional[str]) -> list[str]:
    """How to run lockls: `explicit`, else the venv's script, else PATH, else `-m`."""
    if explicit:
        return shlex.split(explicit)
    beside = os.path.join(os.path.dirname(sys.executable), "lockls")
    if os.path.exists(beside):
        return [beside]
    found = shutil.which("lockls")
    return [found] if found else [sys.executable, "-m", "lockls.main"]


def measure_cli(label: str, cmd: list[str], reps: int, env: dict[str, str],
                outputs: Optional[list[str]] = None) -> Measurement:
    """Time `cmd` `reps` times; exit 0 or 1 (findings) is success, anything else an error."""
    m = Measurement(label)
    for _ in range(reps):
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        except OSError as e:
            m.error = str(e)
            return m
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            first = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            m.error = f"exit {proc.returncode}: {first[:120]}"
            return m
        m.samples.append(elapsed)
        if outputs is not None:
            outputs.append(proc.stdout)
    if outputs:
        try:
            m.note = f"{len(json.loads(outputs[-1]))} findings"
        except ValueError:
            m.note = "output is not JSON"
    return m


@dataclass
class CorpusRun:
    """Every measurement on one corpus."""

    corpus: str
    files: int
    lines: int
    size: int
    reps: int
    parse: Measurement
    analysis: Measurement
    cold: Measurement
    warm: Measurement
    jobs2: Measurement
    startup: Optional[Measurement]  # None: not measured on this corpus


def measure_corpus(corpus: str, reps: int, lockls: list[str], log: Callable[[str], None],
                   startup: bool = True) -> CorpusRun:
    """Run every measurement on `corpus` (start-up too, unless told not to)."""
    files = c_files(corpus)
    if not files:
        raise SystemExit(f"check_speed: no .c or .h files under {corpus}")
    lines, size = corpus_stats(files)
    work = tempfile.mkdtemp(prefix="lockls-speed-")
    try:
        cache_dir = os.path.join(work, "cache")
        env = dict(os.environ, LOCKLS_CACHE_DIR=cache_dir)
        small = os.path.join(work, "small", "counter.c")
        os.makedirs(os.path.dirname(small))
        with open(small, "w", encoding="utf-8") as f:
            f.write(SMALL_FILE)
        check = lockls + ["--check", "--format", "json"]

        log(f"parse-only x{reps}")
        parse = measure_parse(files, reps)
        log(f"in-process analysis x{reps}")
        analysis = measure_analysis(files, reps)
        log(f"lockls --check --jobs 1 --no-cache x{reps}")
        cold_out: list[str] = []
        cold = measure_cli("`lockls --check --jobs 1 --no-cache`", check + ["--jobs", "1", "--no-cache", corpus],
                           reps, env, cold_out)
        log(f"lockls --check --jobs 1, warm cache x{reps} (after one run that fills it)")
        warm_out: list[str] = []
        fill = measure_cli("fill", check + ["--jobs", "1", corpus], 1, env)
        if fill.error:
            warm = Measurement("`lockls --check --jobs 1`, warm cache", error=fill.error)
        else:
            warm = measure_cli("`lockls --check --jobs 1`, warm cache", check + ["--jobs", "1", corpus],
                               reps, env, warm_out)
        if cold_out and warm_out and cold_out[-1] != warm_out[-1]:
            warm.note += "; OUTPUT DIFFERS from the uncached run"
        log(f"lockls --check --jobs 2 --no-cache x{reps}")
        jobs2 = measure_cli("`lockls --check --jobs 2 --no-cache`", check + ["--jobs", "2", "--no-cache", corpus],
                            reps, env, [])
        started = None
        if startup:
            startup_reps = max(reps, 10)
            log(f"start-up on one small file x{startup_reps}")
            started = measure_cli("start-up: `lockls --check --no-cache` on one small file",
                                  check + ["--no-cache", small], startup_reps, env)
            started.comparable = False
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return CorpusRun(corpus, len(files), lines, size, reps, parse, analysis, cold, warm, jobs2, started)


def format_run(r: CorpusRun, startup: Optional[Measurement] = None) -> str:
    """The Markdown report of one corpus: header, table, targets (`startup` stands in
    for a start-up measured on another corpus)."""
    started = r.startup or startup or Measurement("start-up", error="not measured")
    started.comparable = False
    header = (f"Corpus: {r.corpus} ({r.files} files, {r.lines} lines, {r.size / 1e6:.1f} MB); "
              f"medians of {r.reps} runs; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.")
    shown = [r.parse, r.analysis, r.cold, r.warm, r.jobs2] + ([r.startup] if r.startup else [])
    table = format_table(shown, r.parse)
    targets = format_targets(r.parse, r.analysis, r.cold, r.warm, started)
    return f"{header}\n\n{table}\n\n{targets}\n"


def _findings(m: Measurement) -> str:
    """The count in a note like "126 findings" (or "126 findings; OUTPUT DIFFERS ...")."""
    first = m.note.split(";")[0].strip()
    return first.split()[0] if first.endswith(" findings") else ""


def _cell(m: Measurement) -> str:
    return f"failed: {m.error}" if m.error else format_seconds(m.median)


def format_summary(runs: dict[str, CorpusRun]) -> str:
    """One row per profile: the medians side by side, with the ratios that have targets."""
    rows = ["| profile | lines | parse-only | analysis | vs parse-only | `--check -j1 --no-cache` "
            "| warm cache | cold / warm | `--check -j2 --no-cache` | findings |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for profile, r in runs.items():
        rows.append(f"| {profile} | {r.lines:,} | {_cell(r.parse)} | {_cell(r.analysis)} | "
                    f"{format_ratio(ratio(r.analysis.median, r.parse.median))} | {_cell(r.cold)} | "
                    f"{_cell(r.warm)} | {format_ratio(ratio(r.cold.median, r.warm.median))} | {_cell(r.jobs2)} | "
                    f"{_findings(r.cold) or _findings(r.analysis) or 'n/a'} |")
    return "\n".join(rows)


def run(corpus: str, reps: int, lockls: list[str], log: Callable[[str], None]) -> str:
    """Run every measurement on `corpus`; return the Markdown report."""
    return format_run(measure_corpus(corpus, reps, lockls, log))


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", metavar="DIR", help="use this corpus instead of generating one")
    ap.add_argument("--lines", type=int, help="lines to generate (default: 200000; --quick: 20000)")
    ap.add_argument("--files", type=int, help="files to generate (default: 100; --quick: 20)")
    ap.add_argument("--reps", type=int, help="repetitions of each measurement (default: 5; --quick: 3)")
    ap.add_argument("--seed", default="1", help="generator seed (default: 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k lines, 3 repetitions")
    ap.add_argument("--profiles", nargs="+", metavar="PROFILE",
                    help="generator profiles to measure: plain, annotated, kernel (default: all; "
                         "ignored with --corpus)")
    ap.add_argument("--lockls", metavar="CMD", help="how to run lockls (default: the venv's `lockls`)")
    args = ap.parse_args(argv)
    lines = args.lines or (20_000 if args.quick else 200_000)
    files = args.files or (20 if args.quick else 100)
    reps = args.reps or (3 if args.quick else 5)
    if reps < 1:
        ap.error("--reps must be >= 1")

    def log(message: str) -> None:
        print(f"check_speed: {message}", file=sys.stderr, flush=True)

    cmd = lockls_command(args.lockls)
    if args.corpus:
        if args.profiles:
            log("--profiles is ignored with --corpus")
        return _report(run(args.corpus, reps, cmd, log))
    sys.path.insert(0, HERE)
    import generate

    profiles = args.profiles or list(generate.PROFILES)
    unknown = [p for p in profiles if p not in generate.PROFILES]
    if unknown:
        ap.error(f"unknown profile {unknown[0]!r}; expected one of {', '.join(generate.PROFILES)}")
    runs: dict[str, CorpusRun] = {}
    sections = []
    with tempfile.TemporaryDirectory(prefix="lockls-corpus-") as tmp:
        for profile in profiles:
            corpus = os.path.join(tmp, profile)
            log(f"{profile}: generating {lines} lines in {files} files (seed {args.seed})")
            summary = generate.generate_corpus(corpus, lines, files, args.seed, profile)
            planted = sum(summary["bugs"].values())
            r = measure_corpus(corpus, reps, cmd, lambda m, p=profile: log(f"{p}: {m}"), startup=not runs)
            runs[profile] = r
            sections.append(f"### Profile `{profile}` ({planted} planted bugs)\n\n"
                            + format_run(r, next(iter(runs.values())).startup))
    text = "\n".join(sections)
    if len(runs) > 1:
        text += "\n### All profiles\n\n" + format_summary(runs) + "\n"
    return _report(text)


def _report(text: str) -> int:
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
