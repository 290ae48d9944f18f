#!/usr/bin/env python3
"""Language-server latency: didChange -> publishDiagnostics of that version, and hover.

Generates a 10,000-line and a 50,000-line lock-heavy C file (bench/generate.py),
opens each in `lockls` over stdio, then makes 1-character edits inside function
bodies (alternately inserting and deleting a space in a statement's indentation,
so every edit changes one function's text and forces its re-analysis), timing
from sending `textDocument/didChange` to receiving the `publishDiagnostics`
carrying that document version. Hover is timed on the edited lines. When
`clangd` is on PATH, the same edits are sent to clangd (with `-xc
-Wthread-safety` in a `compile_flags.txt`) in the same run and the ratio is
printed. Output: a Markdown table of medians (and 90th percentiles).

Usage:
    python bench/lsp_latency.py [--lines 10000 50000] [--edits 40] [--hovers 40] [--no-clangd]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def generate(path: Path, lines: int) -> str:
    subprocess.run([sys.executable, str(HERE / "generate.py"), "--single", str(path), "--lines", str(lines)],
                   check=True, stdout=subprocess.DEVNULL)
    return path.read_text(encoding="utf-8")


def body_lines(text: str, count: int) -> list[int]:
    """Lines inside function bodies: indented statements, spread over the file."""
    lines = text.split("\n")
    candidates = [i for i, l in enumerate(lines)
                  if l.startswith("    ") and not l.startswith("     ") and l.rstrip().endswith(";") and "(" in l]
    step = max(1, len(candidates) // count)
    return candidates[::step][:count]


class Bench:
    def __init__(self, name: str, command: list[str], cwd: str):
        self.name, self.command, self.cwd = name, command, cwd
        self.client = LanguageClient("lsp-latency", "1")
        self.waiters: dict[tuple[str, int], asyncio.Future] = {}

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

    async def edits(self, uri: str, lines: list[int]) -> list[float]:
        out, version = [], 0
        for line in lines:
            for insert in (True, False):
                version += 1
                rng = T.Range(T.Position(line, 0), T.Position(line, 0 if insert else 1))
                fut = self.expect(uri, version)
                t0 = time.perf_counter()
                self.client.text_document_did_change(T.DidChangeTextDocumentParams(
                    T.VersionedTextDocumentIdentifier(version=version, uri=uri),
                    [T.TextDocumentContentChangePartial(range=rng, text=" " if insert else "")]))
                out.append(await asyncio.wait_for(fut, TIMEOUT) - t0)
        return out

    async def hovers(self, uri: str, lines: list[int]) -> list[float]:
        out = []
        for line in lines:
            t0 = time.perf_counter()
            await asyncio.wait_for(self.client.text_document_hover_async(T.HoverParams(
                T.TextDocumentIdentifier(uri), T.Position(line, 6))), TIMEOUT)
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


async def measure(name: str, command: list[str], path: Path, text: str, n_edits: int, n_hovers: int) -> dict:
    bench = Bench(name, command, str(path.parent))
    await bench.start(str(path.parent))
    try:
        uri = path.resolve().as_uri()
        opened = await bench.open(uri, text)
        lines = body_lines(text, max(n_edits, n_hovers))
        edits = await bench.edits(uri, lines[:n_edits])
        hovers = await bench.hovers(uri, lines[:n_hovers]) if n_hovers else []
    finally:
        await bench.stop()
    return {"server": name, "open": opened * 1000, "edit_median": ms(edits), "edit_p90": ms(edits, 0.9),
            "hover_median": ms(hovers), "edits": len(edits), "hovers": len(hovers)}


async def main_async(args) -> int:
    lockls = [sys.executable, "-m", "lockls"]
    clangd = shutil.which("clangd") if not args.no_clangd else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="lsp-latency-") as tmp:
        for lines in args.lines:
            d = Path(tmp) / f"l{lines}"
            d.mkdir()
            path = d / f"gen{lines}.c"
            text = generate(path, lines)
            n = text.count("\n")
            row = await measure("lockls", lockls, path, text, args.edits, args.hovers)
            row["lines"] = n
            rows.append(row)
            if clangd:
                (d / "compile_flags.txt").write_text("-xc\n-Wthread-safety\n-pthread\n")
                crow = await measure("clangd", [clangd, "--log=error"], path, text, args.edits, args.hovers)
                crow["lines"] = n
                crow["ratio"] = crow["edit_median"] / row["edit_median"] if row["edit_median"] else float("nan")
                rows.append(crow)
    print("| server | lines | open → diagnostics (ms) | edit → diagnostics median (ms) | p90 (ms) | hover median (ms) | clangd / lockls |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['ratio']:.1f}×" if "ratio" in r else ""
        print(f"| {r['server']} | {r['lines']:,} | {r['open']:.0f} | {r['edit_median']:.1f} | {r['edit_p90']:.1f} | "
              f"{r['hover_median']:.1f} | {ratio} |")
    print(f"\n{rows[0]['edits']} edits and {rows[0]['hovers']} hovers per file; "
          f"{'clangd: ' + clangd if clangd else 'clangd not on PATH: not compared'}.")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--edits", type=int, default=40, help="lines edited (two edits each: insert, delete)")
    ap.add_argument("--hovers", type=int, default=40)
    ap.add_argument("--no-clangd", action="store_true")
    return asyncio.run(main_async(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
