"""The steps `--check` takes for adopting lockls on code that has findings: `--baseline`,
`--update-baseline`, `--add-suppressions`, `--fix`, `--diff`.

Owns when each happens in a run and what it prints; `baseline`, `suppressions` and
`fixing` own the files they write. `check.run_check` calls: `load_baseline` (before
the analysis), `fix` (the rounds of fixes and re-checks), `shown` (the findings to
report, the baseline applied), `write` (the modes that write or show something
instead of a report) and `notes` (the lines after the summary).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from lockls.cli import baseline, fixing
from lockls.files import printable


@dataclass
class Shown:
    """What a run reports, and how its paths print."""

    findings: list  # sorted, without those the baseline hides
    display: Callable[[str], str]
    baseline: baseline.Filtered | None = None


def load_baseline(options) -> Counter | None:
    """The baseline a run filters with (None without `--baseline`, or when updating it)."""
    if options.baseline is None or options.update_baseline:
        return None
    return baseline.load(options.baseline)


def _reported(options) -> Callable[[str, str], bool]:
    """Whether the run reports `rule` in the file `path`: as `check` filters findings
    (the selection, less `[per-file-ignores]` there, less `--ignore`)."""
    from lockls.config import ConfigError, config_for

    def reported(path: str, rule: str) -> bool:
        if rule in options.ignore:
            return False
        try:  # (loaded by the run already: cached)
            return rule in config_for(path, options.config).selected_rules(path, options.select)
        except (ConfigError, OSError):
            return options.select is None or rule in options.select

    return reported


def _checked(report) -> list[str]:
    return [r.path for r in report.results]


def shown(options, report, baselined: Counter | None, read: Callable[[str], bytes | None]) -> Shown:
    from lockls.report.formats import relative_to_cwd

    display = relative_to_cwd(outside=report.given)
    findings = sorted(report.findings, key=lambda f: (display(f.path), *f.sort_key()[1:]))
    if baselined is None:
        return Shown(findings, display)
    filtered = baseline.apply(findings, baselined, baseline.Keys(options.baseline, read), _checked(report),
                              _reported(options))
    return Shown(filtered.findings, display, filtered)


def fix(options, report, baselined: Counter | None, recheck: Callable[[], object], stderr: TextIO):
    """`--fix`: apply the fixes of the findings reported, re-check, and again while fixes
    are left that waited for others (at most `fixing.MAX_ROUNDS` times). Findings that a
    fix left as many as they were (it did not fix them) are not fixed again. Returns
    the last re-check's report."""
    applied, files = 0, set()
    given_up: set = set()
    for _ in range(fixing.MAX_ROUNDS):
        keys = baseline.Keys(os.path.join(os.getcwd(), "_"), _read)
        findings = shown(options, report, baselined, _read).findings
        before = Counter(keys.key(f) for f in findings)
        planned = fixing.plan(findings, options.unsafe_fixes, lambda f: keys.key(f) in given_up)
        if not planned:
            break
        tried = Counter(keys.key(f) for file in planned for f in file.fixed)
        fixing.write(planned)
        applied += sum(file.fixes for file in planned)
        files.update(file.path for file in planned)
        report = recheck()
        keys = baseline.Keys(os.path.join(os.getcwd(), "_"), _read)
        after = Counter(keys.key(f) for f in shown(options, report, baselined, _read).findings)
        given_up.update(k for k in tried if after[k] >= before[k])
    print(f"lockls: {fixing.counted(applied, 'fix')} applied"
          + (f" in {fixing.counted(len(files), 'file')}" if files else ""), file=stderr)
    return report


def _read(path: str) -> bytes | None:
    from lockls.files import read_bytes

    try:
        return read_bytes(path)
    except OSError:
        return None


def write(options, report, seen: Shown, out: Callable[[str], None], stderr: TextIO) -> int:
    """`--update-baseline`, `--add-suppressions` or `--diff` (its diff goes to `out`): the exit status."""
    if options.update_baseline:
        recorded = baseline.write(options.baseline, seen.findings, baseline.Keys(options.baseline, _read),
                                  _checked(report), _reported(options))
        print(f"lockls: baseline {printable(options.baseline)}: "
              f"{recorded} finding{'' if recorded == 1 else 's'} recorded", file=stderr)
        return 0
    if options.add_suppressions:
        from lockls.cli.suppressions import suppress

        done = suppress(seen.findings)
        fixing.write(done)
        added, extended = sum(f.added for f in done), sum(f.extended for f in done)
        text = f"lockls: {fixing.counted(added, 'suppression comment')} added"
        if extended:
            text += f", {extended} extended"
        print(f"{text} in {fixing.counted(len(done), 'file')}", file=stderr)
        return 0
    planned = fixing.plan(seen.findings, options.unsafe_fixes)
    out(fixing.unified_diff(planned, seen.display))
    count = sum(file.fixes for file in planned)
    print(f"lockls: {fixing.counted(count, 'fix')} would be applied"
          + (f" in {fixing.counted(len(planned), 'file')}" if planned else ""), file=stderr)
    return 1 if planned else 0


def notes(options, seen: Shown) -> list[str]:
    """Lines after the summary: the baseline's counts (any format), and in text how
    many findings `--fix` could fix."""
    out = []
    if seen.baseline is not None:
        out.append(baseline.summary(options.baseline, seen.baseline))
    if options.fmt == "text" and not options.fix:
        safe = sum(1 for f in seen.findings if fixing.fixable(f, False) is not None)
        unsafe = sum(1 for f in seen.findings if fixing.fixable(f, True) is not None) - safe
        if safe or unsafe:
            parts = ([f"{fixing.counted(safe, 'finding')} fixable with --fix"] if safe else []) + \
                ([f"{unsafe} more" if safe else f"{fixing.counted(unsafe, 'finding')} fixable"] if unsafe else [])
            if unsafe:
                parts[-1] += " with --fix --unsafe-fixes"
            out.append(f"lockls: {', '.join(parts)} (--diff shows the changes)")
    return out
