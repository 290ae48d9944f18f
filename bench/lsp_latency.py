#!/usr/bin/env python3
"""Language-server latency: didChange -> publishDiagnostics of that version, and hover.

For every profile of bench/generate.py (plain, annotated, kernel) it generates a
10,000-line and a 50,000-line file, opens each in `lockls` over stdio, and times
two kinds of 1-character-ish edits, from sending `textDocument/didChange` to
receiving the `publishDiagnostics` carrying that document version:

  body       inside function bodies: a space inserted in a statement's
             indentation, then deleted (each edit changes one function's text
             and forces its re-analysis);
  top level  between two function definitions: a blank line, or a comment
             line, inserted after a function's closing brace, then deleted
             (no function's text changes, but every later line moves).

Hover is timed after the edits of each kind: on the edited statements for body
edits, on the name of the function that follows each insertion point for
top-level edits. When `clangd` is on PATH, the same edits are sent to clangd
(with `-xc -Wthread-safety` in a `compile_flags.txt`) in the same run and the
ratio is printed. Output: one Markdown table, a row per server x profile x size
x edit kind, with medians and 90th percentiles.

Usage:
    python bench/lsp_latency.py [--profiles plain annotated kernel] [--lines 10000 50000]
                                [--edits 40] [--hovers 40] [--seed 1] [--no-clangd]
                                [--lockls CMD]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
TIMEOUT = 120
PROFILES = ("plain", "annotated", "kernel")
EDIT_KINDS = ("body", "top level")
TOP_LEVEL_TEXTS = ("\n", "/* lsp-latency: a comment between two functions */\n")


def generate(path: Path, lines: int, profile: str = "plain", seed: str = "1") -> str:
    subprocess.run([sys.executable, str(HERE / "generate.py"), "--single", str(path), "--lines", str(lines),
                    "--profile", profile, "--seed", seed],
                   check=True, stdout=subprocess.DEVNULL)
    return path.read_text(encoding="utf-8")


def _spread(candidates: list, count: int) -> list:
    step = max(1, len(candidates) // max(1, count))
    return candidates[::step][:count]


def body_lines(text: str, count: int) -> list[int]:
    """Lines inside function bodies: statements at the first indentation level
    (four spaces, or a tab in kernel style), spread over the file."""
    lines = text.split("\n")
    candidates = [i for i, l in enumerate(lines)
                  if ((l.startswith("    ") and not l.startswith("     ")) or
                      (l.startswith("\t") and not l.startswith("\t\t")))
                  and l.rstrip().endswith(";") and "(" in l]
    return _spread(candidates, count)


_NAME = re.compile(r"^(?:[A-Za-z_][\w \t\*]*[\s\*])?([A-Za-z_]\w*)\(")


def top_level_gaps(text: str, count: int) -> list[tuple[int, int, int]]:
    """Blank lines between two function definitions, spread over the file: each
    (blank line, line of the next function's name, column of the name)."""
    lines = text.split("\n")
    out = []
    for i in range(1, len(lines) - 1):
        if lines[i] != "" or lines[i - 1] != "}" or not lines[i + 1]:
            continue
        for j in range(i + 1, min(i + 6, len(lines))):
            line = lines[j]
            if line.startswith(("/*", " *", "#")) or "(" not in line:
                continue  # a comment, or the return type on a line of its own
            m = _NAME.match(line)
            if m and not line.startswith(("static DEFINE", "module_", "MODULE_")):
                out.append((i, j, m.start(1)))
            break
    return _spread(out, count)


class Bench:
    def __init__(self, name: str, command: list[str], cwd: str):
        self.name, self.command, self.cwd = name, command, cwd
        self.client = LanguageClient("lsp-latency", "1")
        self.waiters: dict[tuple[str, int], asyncio.Future] = {}
        self.version = 0

        @self.client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: T.PublishDiagnosticsParams):
            fut = self.waiters.pop((params.uri, params.version), None)
            if fut is not None and not fut.done():
                fut.set_result(time.perf_counter())

        @self.client.feature(T.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress(params):
            return None

    async def start(self, root: str):
        await self.client.start_io(*self.command, cwd=self.cwd)
        caps = T.ClientCapabilities(text_document=T.TextDocumentClientCapabilities(
            publish_diagnostics=T.PublishDiagnosticsClientCapabilities(version_support=True),
            hover=T.HoverClientCapabilities(content_format=[T.MarkupKind.Markdown])))
        await asyncio.wait_for(self.client.initialize_async(T.InitializeParams(
            capabilities=caps, root_uri=Path(root).as_uri(), process_id=os.getpid())), TIMEOUT)
        self.client.initialized(T.InitializedParams())

    def expect(self, uri: str, version: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiters[(uri, version)] = fut
        return fut

    async def open(self, uri: str, text: str) -> float:
        fut = self.expect(uri, 0)
        t0 = time.perf_counter()
        self.client.text_document_did_open(T.DidOpenTextDocumentParams(T.TextDocumentItem(uri, "c", 0, text)))
        return await asyncio.wait_for(fut, TIMEOUT) - t0

    async def change(self, uri: str, rng: T.Range, text: str) -> float:
        """One incremental change; the time until its version's diagnostics arrive."""
        self.version += 1
        fut = self.expect(uri, self.version)
        t0 = time.perf_counter()
        self.client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(version=self.version, uri=uri),
            [T.TextDocumentContentChangePartial(range=rng, text=text)]))
        return await asyncio.wait_for(fut, TIMEOUT) - t0

    async def body_edits(self, uri: str, lines: list[int]) -> list[float]:
        """Insert a space at the start of each line, then delete it."""
        out = []
        for line in lines:
            out.append(await self.change(uri, T.Range(T.Position(line, 0), T.Position(line, 0)), " "))
            out.append(await self.change(uri, T.Range(T.Position(line, 0), T.Position(line, 1)), ""))
        return out

    async def top_level_edits(self, uri: str, gaps: list[int]) -> list[float]:
        """Insert a blank or a comment line on a blank line between two functions, then delete it."""
        out = []
        for n, line in enumerate(gaps):
            text = TOP_LEVEL_TEXTS[n % len(TOP_LEVEL_TEXTS)]
            out.append(await self.change(uri, T.Range(T.Position(line, 0), T.Position(line, 0)), text))
            out.append(await self.change(uri, T.Range(T.Position(line, 0), T.Position(line + 1, 0)), ""))
        return out

    async def hovers(self, uri: str, positions: list[tuple[int, int]]) -> list[float]:
        out = []
        for line, column in positions:
            t0 = time.perf_counter()
            await asyncio.wait_for(self.client.text_document_hover_async(T.HoverParams(
                T.TextDocumentIdentifier(uri), T.Position(line, column))), TIMEOUT)
            out.append(time.perf_counter() - t0)
        return out

    async def stop(self):
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        except Exception:
            pass
        await self.client.stop()


def ms(values: list[float], q: float = 0.5) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if q != 0.5 else statistics.median(values) * 1000


async def measure(name: str, command: list[str], path: Path, text: str, n_edits: int, n_hovers: int) -> list[dict]:
    """One server session on one file: body edits, then top-level edits. A row per edit kind."""
    bench = Bench(name, command, str(path.parent))
    await bench.start(str(path.parent))
    try:
        uri = path.resolve().as_uri()
        opened = await bench.open(uri, text)
        body = body_lines(text, max(n_edits, n_hovers))
        gaps = top_level_gaps(text, max(n_edits, n_hovers))
        # Every edit is undone before the next, so the positions above stay valid.
        body_times = await bench.body_edits(uri, body[:n_edits])
        body_hovers = await bench.hovers(uri, [(line, 6) for line in body[:n_hovers]]) if n_hovers else []
        top_times = await bench.top_level_edits(uri, [gap for gap, _, _ in gaps[:n_edits]])
        top_hovers = await bench.hovers(uri, [(j, col) for _, j, col in gaps[:n_hovers]]) if n_hovers else []
    finally:
        await bench.stop()
    rows = []
    for kind, edits, hovers in (("body", body_times, body_hovers), ("top level", top_times, top_hovers)):
        rows.append({"server": name, "edit": kind, "open": opened * 1000, "edit_median": ms(edits),
                     "edit_p90": ms(edits, 0.9), "hover_median": ms(hovers), "edits": len(edits),
                     "hovers": len(hovers)})
    return rows


def format_table(rows: list[dict]) -> str:
    out = ["| server | profile | lines | edit | open → diagnostics (ms) | edit → diagnostics median (ms) "
           "| p90 (ms) | hover median (ms) | clangd / lockls |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['ratio']:.1f}×" if "ratio" in r else ""
        out.append(f"| {r['server']} | {r['profile']} | {r['lines']:,} | {r['edit']} | {r['open']:.0f} | "
                   f"{r['edit_median']:.1f} | {r['edit_p90']:.1f} | {r['hover_median']:.1f} | {ratio} |")
    return "\n".join(out)


async def main_async(args) -> int:
    lockls = shlex.split(args.lockls) if args.lockls else [sys.executable, "-m", "lockls"]
    clangd = shutil.which("clangd") if not args.no_clangd else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="lsp-latency-") as tmp:
        for profile in args.profiles:
            for lines in args.lines:
                d = Path(tmp) / f"{profile}-{lines}"
                d.mkdir()
                path = d / f"gen{lines}.c"
                text = generate(path, lines, profile, args.seed)
                n = text.count("\n")
                print(f"lsp_latency: {profile}, {n} lines", file=sys.stderr, flush=True)
                mine = await measure("lockls", lockls, path, text, args.edits, args.hovers)
                for r in mine:
                    r.update(profile=profile, lines=n)
                rows += mine
                if clangd:
                    (d / "compile_flags.txt").write_text("-xc\n-Wthread-safety\n-pthread\n")
                    theirs = await measure("clangd", [clangd, "--log=error"], path, text, args.edits, args.hovers)
                    for r, m in zip(theirs, mine):
                        r.update(profile=profile, lines=n)
                        r["ratio"] = r["edit_median"] / m["edit_median"] if m["edit_median"] else float("nan")
                    rows += theirs
    print(format_table(rows))
    first = rows[0]
    print(f"\n{first['edits']} edits and {first['hovers']} hovers of each kind per file; "
          f"{'clangd: ' + clangd if clangd else 'clangd not on PATH: not compared'}.")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", nargs="+", choices=PROFILES, default=list(PROFILES),
                    help="generator profiles to measure (default: all three)")
    ap.add_argument("--lines", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--edits", type=int, default=40,
                    help="places edited per kind (two edits each: insert, delete)")
    ap.add_argument("--hovers", type=int, default=40, help="hovers per edit kind")
    ap.add_argument("--seed", default="1", help="generator seed (default: 1)")
    ap.add_argument("--no-clangd", action="store_true")
    ap.add_argument("--lockls", metavar="CMD", help="how to start the server (default: python -m lockls)")
    return asyncio.run(main_async(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
