#!/usr/bin/env python3
"""Soak the language server's session: a long editing session, its memory, its parity with --check.

A long session (the default) opens one generated C file (bench/generate.py,
`--lines` 5,000 by default, `--profile`) in the server's in-process session
(`lockls.lsp.session.Session`: documents, incremental reparse, per-function
reuse, diagnostics conversion) and types into it: `--edits` (default 5,000)
keystrokes as an editor sends them, each one a `didChange` (`Session.change`)
followed by a request for the document's diagnostics
(`lockls.lsp.diagnostics.document_diagnostics`), as the server publishes them.
The keystrokes come in bursts a person makes: typing a statement character by
character on a new line inside a function (a lock or unlock call of the file, a
`return`, a `goto`, an `if (...) {` block, so braces are unbalanced while it is
typed), then often deleting it again; fixing a typo; completing an identifier
in one edit; pasting or deleting a chunk of lines; deleting a closing brace
and typing it back; commenting lines out and back in; splitting and joining a
line; typing a comment with non-ASCII text. Every `--every` edits (500) it
prints the process RSS (VmRSS, after a garbage collection), Python's allocated
blocks, the median and 95th percentile of the time per edit (change +
diagnostics) over the last `--every` edits, and the size of the engine's
function cache. At the end: a Markdown table, and whether RSS is flat after
warm-up (growth from the checkpoint at `--warmup` edits, 1,000, to the end
under 10%). The engine's function cache keeps every version of a function
typed (up to 20,000 entries), so RSS grows while it fills; `--cache-capacity
300` makes it fill early, and RSS that still grows after that is a leak. The
summaries' cache (8,192 entries, each a few hundred bytes: keyed by digests, not
texts) fills over the first 4,000 to 5,000 edits of the default file: `--edits 8000
--warmup 4000` measures after it.

`--parity M` compares, every M edits, the session's view of the document with
a fresh analysis of the same text: the document's bytes with the text the
editor model holds, then `FileAnalysis.file_result()` of the session (findings
with spans, messages and related places, functions, skipped, partial,
suppression warnings) with `lockls.engine.driver.analyze_source` of the text,
which is what `lockls --check` reports.

`--sequences S` instead runs S short sequences (10 to 20 edits each: the same
keystroke bursts, and random replacements of a few characters by snippets as
tests/test_server_property.py makes them: braces, lock calls, `goto out;`,
CRLF, emoji, form feeds) on varied seed files (tests/fixtures, examples,
generated modules of every profile, some with CRLF line endings), in UTF-16 or
UTF-8 positions, in one long-lived session (one engine and function cache for
every document, as in the server); diagnostics are asked after most edits (not
all: the server debounces). Parity is checked once in the middle and at the
end of each sequence, and RSS is reported as above.

Each mismatch is counted; the first few (`--show`) are printed, and every one
is saved to `--out` (default /tmp/lockls-soak): the text (.c), both views
(.json) and the edit script (.replay.json). `--replay FILE.replay.json` runs an
edit script again in a fresh session and says whether it still mismatches.
The exit status is 1 if there was a mismatch.

Usage:
    python bench/soak.py [--edits 5000] [--lines 5000] [--seed 1] [--profile plain]
                         [--every 500] [--warmup 1000] [--parity 100] [--cache-capacity N]
    python bench/soak.py --sequences 10000 [--seed 1]          # the issue's parity run
    python bench/soak.py --replay /tmp/lockls-soak/mismatch-1.replay.json
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import random
import re
import resource
import statistics
import sys
import time
from typing import Iterator, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "server"))  # this checkout's lockls

from lsprotocol import types as T  # noqa: E402

import generate  # noqa: E402
from lockls.engine.driver import analyze_source  # noqa: E402
from lockls.lsp.diagnostics import document_diagnostics  # noqa: E402
from lockls.lsp.documents import UTF8, UTF16  # noqa: E402
from lockls.lsp.session import Session  # noqa: E402
from lockls.lsp.uris import uri_to_path  # noqa: E402
from lockls.report.findings import file_result_to_dict  # noqa: E402

SOAK_DIR = "/tmp/lockls-soak"


# -- memory ---------------------------------------------------------------------------

def rss_mb() -> float:
    """The resident set size now (VmRSS), or the peak where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the editor's model of the text -------------------------------------------------------

class Editor:
    """The text as the editor holds it, a cursor, and LSP positions of offsets in it.

    Offsets are indices into the Python string; line breaks are \\n, \\r\\n and \\r,
    as in the LSP. No edit starts or ends inside a \\r\\n."""

    def __init__(self, text: str, encoding: str):
        self.text = text
        self.encoding = encoding
        self.cursor = 0

    def position(self, index: int) -> T.Position:
        text = self.text
        line = text.count("\n", 0, index) + text.count("\r", 0, index) - text.count("\r\n", 0, index)
        start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
        prefix = text[start:index]
        if prefix.isascii():
            return T.Position(line, len(prefix))
        if self.encoding == UTF8:
            return T.Position(line, len(prefix.encode("utf-8", "surrogatepass")))
        return T.Position(line, len(prefix.encode("utf-16-le", "surrogatepass")) // 2)

    def change(self, a: int, b: int, new: str) -> T.TextDocumentContentChangePartial:
        """Replace text[a:b] by `new`; the LSP change that says so (positions before the edit)."""
        rng = T.Range(self.position(a), self.position(b))
        self.text = self.text[:a] + new + self.text[b:]
        self.cursor = a + len(new)
        return T.TextDocumentContentChangePartial(range=rng, text=new)

    def splits_break(self, i: int) -> bool:
        return 0 < i < len(self.text) and self.text[i - 1] == "\r" and self.text[i] == "\n"

    def line_at(self, i: int) -> tuple[int, int]:
        """[start, end) of the line holding offset i (without its break)."""
        start = max(self.text.rfind("\n", 0, i), self.text.rfind("\r", 0, i)) + 1
        m = re.compile(r"\r|\n").search(self.text, i)
        return start, (m.start() if m else len(self.text))

    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text[:2000] else "\n"


# -- keystroke bursts ---------------------------------------------------------------------

LOCK_CALL = re.compile(r"\b(?:pthread_(?:mutex|rwlock|spin)_\w*lock|mtx_\w*lock|spin_\w*lock\w*|mutex_\w*lock"
                       r"|down_\w+|up_\w+|rcu_read_\w*lock|read_\w*lock|write_\w*lock)\s*\([^;\n]{0,60}\);")
GENERIC = ["return -1;", "goto out;", "rc = -EBUSY;", "count++;", "if (rc) {\n    return rc;\n}",
           "if (!v)\n    goto out;", "/* note */", "break;", "while (n) {\n    n--;\n}", "continue;",
           "switch (rc) {\ncase 0:\n    break;\ndefault:\n    return rc;\n}", "do {\n    n++;\n} while (0);",
           "#ifdef DEBUG\nlog_event(\"x\");\n#endif", "out:", "return;"]
WORDS = ["pthread_mutex_lock", "pthread_mutex_unlock", "pthread_rwlock_rdlock", "spin_lock_irqsave", "goto",
         "return", "unlikely", "struct", "static", "NULL", "sizeof", "mutex_unlock", "rcu_read_unlock"]
COMMENTS = ["// café, naïve", "/* 日本語のコメント */", "// 😀 emoji in a comment", "/* ünïcödé \u2028 sep */",
            "// TODO: tidy"]
SNIPPETS = ["", "\n", "}", "{", " ", "pthread_mutex_unlock(&c->lock);", "pthread_mutex_lock(&c->lock);\n",
            "return -1;", "if (x)\n", "x", "😀", "日本", "\f\n", "/*", "*/", "\r\n", "goto out;", "(", ")", ";",
            "#if 0\n", "#endif\n", "else", "\"", "spin_unlock(&l);", "out:\n", "{\n", "}\n"]


class Keyboard:
    """Makes the edits a person makes, burst by burst (generators of (start, end, text)
    computed against the editor's text at the moment they are applied)."""

    def __init__(self, ed: Editor, rng: random.Random, initial_size: int, hostile: bool = False):
        self.ed, self.rng, self.hostile = ed, rng, hostile
        self.initial = max(initial_size, 1)
        self.statements = sorted(set(LOCK_CALL.findall(ed.text)))[:200] or ["pthread_mutex_lock(&m);"]

    # where to type: the end of a statement line inside a function body
    def body_line_end(self) -> Optional[int]:
        ed, rng = self.ed, self.rng
        for _ in range(30):
            if not ed.text:
                return 0
            start, end = ed.line_at(rng.randrange(len(ed.text)))
            line = ed.text[start:end]
            if line[:1] in (" ", "\t") and line.rstrip().endswith((";", "{")):
                return end
        return None

    def indent_at(self, end: int) -> str:
        start, _ = self.ed.line_at(end)
        line = self.ed.text[start:end]
        indent = line[:len(line) - len(line.lstrip())]
        return indent + ("    " if line.rstrip().endswith("{") else "")

    def keystrokes(self, text: str, indent: str) -> list[str]:
        """`text` as keystrokes: a line break and the auto-indent are one, every other character one."""
        nl = self.ed.newline()
        out = []
        for i, part in enumerate(text.split("\n")):
            if i:
                out.append(nl + indent)
            out.extend(part)
        return out

    def type(self, keys: list[str]) -> Iterator[tuple[int, int, str]]:
        for k in keys:
            yield self.ed.cursor, self.ed.cursor, k

    def erase_to(self, floor: int) -> Iterator[tuple[int, int, str]]:
        """Backspace until the cursor is back at `floor` (four spaces of indent at a time)."""
        while self.ed.cursor > floor:
            c, text = self.ed.cursor, self.ed.text
            width = 4 if text[max(0, c - 4):c] == "    " else 2 if text[c - 2:c] == "\r\n" else 1
            yield max(floor, c - width), c, ""

    # the bursts
    def b_statement(self):
        end = self.body_line_end()
        if end is None:
            return
        self.ed.cursor = end
        indent = self.indent_at(end)
        stmt = self.rng.choice(self.statements) if self.rng.random() < 0.5 else self.rng.choice(GENERIC)
        keys = [self.ed.newline() + indent] + self.keystrokes(stmt, indent)
        yield from self.type(keys)
        if self.rng.random() < 0.4:  # changed their mind
            yield from self.erase_to(end)

    def b_typo(self):
        ed, rng = self.ed, self.rng
        if not ed.text:
            return
        start, end = ed.line_at(rng.randrange(len(ed.text)))
        if end - start < 4:
            return
        ed.cursor = rng.randint(start + 1, end)
        n = rng.randint(1, 3)
        gone = ed.text[max(start, ed.cursor - n):ed.cursor]
        for _ in range(len(gone)):
            yield ed.cursor - 1, ed.cursor, ""
        # a different word stays only where it cannot unbalance anything (letters for letters)
        other = rng.choice(WORDS)[:len(gone) + 1]
        keep = rng.random() < 0.3 and (self.hostile or (gone.isalnum() and other.isalnum()))
        yield from self.type(list(other if keep else gone))

    def b_complete(self):
        ed, rng = self.ed, self.rng
        end = self.body_line_end()
        if end is None:
            return
        word = rng.choice(WORDS + self.statements)
        start, _ = ed.line_at(end)
        line = ed.text[start:end]
        at = end if rng.random() < 0.5 else start + len(line) - len(line.lstrip())
        yield at, at, word
        if rng.random() < 0.6:
            yield at, at + len(word), ""

    def lines(self, most: int) -> Optional[tuple[int, int]]:
        """[a, b) of 1 to `most` whole lines. Unless hostile, balanced: as many `{` as `}` and
        `(` as `)`, no comment delimiter or quote, so pasting or deleting them keeps the file
        as healthy as it was (a long session must not drift into one big parse error)."""
        ed, rng = self.ed, self.rng
        for _ in range(20):
            if not ed.text:
                return None
            a, _ = ed.line_at(rng.randrange(len(ed.text)))
            b = a
            for _ in range(rng.randint(1, most)):
                _, b = ed.line_at(b)
                b = min(len(ed.text), b + (2 if ed.text[b:b + 2] == "\r\n" else 1))
            chunk = ed.text[a:b]
            if self.hostile or (chunk.count("{") == chunk.count("}") and chunk.count("(") == chunk.count(")")
                                and not re.search(r"/\*|\*/|[\"'\\]|^\s*#", chunk, re.M)):
                return a, b
        return None

    def b_paste(self):
        """Copy some lines and paste them at the start of another line."""
        span = self.lines(30)
        if span is None:
            return
        at, _ = self.ed.line_at(self.rng.randrange(len(self.ed.text)))
        yield at, at, self.ed.text[span[0]:span[1]]

    def b_delete_lines(self):
        span = self.lines(20)
        if span is not None:
            yield span[0], span[1], ""

    def b_brace(self):
        """Delete a closing brace, type a little, take it back, and type the brace again."""
        ed, rng = self.ed, self.rng
        closers = [m.end() for m in re.finditer(r"(?m)^[ \t]*\}", ed.text)]
        if not closers:
            return
        ed.cursor = rng.choice(closers)
        yield ed.cursor - 1, ed.cursor, ""
        floor = ed.cursor
        yield from self.type(list(rng.choice(["x", "return", "pthread_mutex_unlock(&m);", "goto out"])))
        yield from self.erase_to(floor)
        yield from self.type(["}"])

    def b_open_brace(self):
        """Type `{` at the end of a line (a brace nobody closes yet), a few keys, then remove it."""
        end = self.body_line_end()
        if end is None:
            return
        self.ed.cursor = end
        yield from self.type([" ", "{"])
        indent = self.indent_at(self.ed.cursor)
        yield from self.type([self.ed.newline() + indent] + list("x++;"))
        yield from self.erase_to(end)

    def b_comment_out(self):
        """Comment some lines out (`/*` ... `*/`, typed), and most often back in."""
        ed, rng = self.ed, self.rng
        span = self.lines(12)
        if span is None:
            return
        a, b = span
        b -= 2 if ed.text[b - 2:b] == "\r\n" else 1 if ed.text[b - 1:b] in ("\n", "\r") else 0
        yield a, a, "/"
        yield a + 1, a + 1, "*"
        b += 2
        yield b, b, "*"
        yield b + 1, b + 1, "/"
        if rng.random() < 0.7:
            yield b, b + 2, ""
            yield a, a + 2, ""

    def b_split_join(self):
        ed, rng = self.ed, self.rng
        if not ed.text:
            return
        start, end = ed.line_at(rng.randrange(len(ed.text)))
        at = rng.randint(start, end)
        nl = ed.newline()
        yield at, at, nl
        # joined again, unless the break is harmless there (after `;`, `{` or `}`)
        if self.hostile or rng.random() < 0.8 or ed.text[at - 1:at] not in (";", "{", "}"):
            yield at, at + len(nl), ""

    def b_unicode(self):
        end = self.body_line_end()
        if end is None:
            return
        self.ed.cursor = end
        yield from self.type(list(" " + self.rng.choice(COMMENTS)))
        if self.rng.random() < 0.5:
            yield from self.erase_to(end)

    def b_snippet(self):
        """A random replacement, as the property tests make them."""
        ed, rng = self.ed, self.rng
        start = rng.randrange(len(ed.text) + 1)
        end = min(start + rng.randrange(13), len(ed.text))
        if ed.splits_break(start) or ed.splits_break(end):
            return
        yield start, end, rng.choice(SNIPPETS)

    def burst(self) -> Iterator[tuple[int, int, str]]:
        size = len(self.ed.text) / self.initial
        grow, shrink = (1, 8) if size > 1.25 else (8, 1) if size < 0.8 else (4, 4)
        bursts = [(self.b_statement, 30), (self.b_typo, 14), (self.b_complete, 8), (self.b_paste, grow),
                  (self.b_delete_lines, shrink), (self.b_brace, 8), (self.b_open_brace, 6),
                  (self.b_comment_out, 4), (self.b_split_join, 6), (self.b_unicode, 3)]
        if self.hostile:
            bursts.append((self.b_snippet, 60))
        make = self.rng.choices([b for b, _ in bursts], [w for _, w in bursts])[0]
        return make()


# -- parity ---------------------------------------------------------------------------------

def view(result) -> dict:
    d = file_result_to_dict(result)
    d.pop("path", None)
    return d


def parity(s: Session, uri: str, ed: Editor) -> Optional[dict]:
    """None when the session agrees with a fresh analysis of the editor's text, else what differs."""
    config = s.config_for_uri(uri)
    doc = s.documents[uri]
    source = ed.text.encode("utf-8", "surrogatepass")
    if doc.source != source:
        return {"kind": "text", "session": doc.source.decode("utf-8", "replace"), "fresh": ed.text}
    mine = view(s.analysis(uri).file_result())
    fresh = view(analyze_source(source, uri_to_path(uri), config))
    if mine == fresh:
        return None
    diff = {k: {"session": mine[k], "fresh": fresh[k]} for k in mine if mine[k] != fresh.get(k)}
    return {"kind": "findings" if "findings" in diff else "+".join(sorted(diff)), "diff": diff}


class Mismatches:
    def __init__(self, out: str, show: int):
        self.out, self.show, self.count = out, show, 0
        self.kinds: dict[str, int] = {}

    def add(self, what: dict, ed: Editor, script: dict, where: str) -> None:
        self.count += 1
        self.kinds[what["kind"]] = self.kinds.get(what["kind"], 0) + 1
        os.makedirs(self.out, exist_ok=True)
        base = os.path.join(self.out, f"mismatch-{self.count}")
        suffix = ".h" if script["uri"].endswith(".h") else ".c"
        with open(base + suffix, "w", encoding="utf-8", errors="surrogatepass", newline="") as f:
            f.write(ed.text)
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(what, f, indent=1, ensure_ascii=False)
        with open(base + ".replay.json", "w", encoding="utf-8") as f:
            json.dump(script, f, ensure_ascii=False)
        if self.count <= self.show:
            detail = json.dumps(what.get("diff", {}), ensure_ascii=False)
            print(f"MISMATCH {self.count} ({what['kind']}) {where}: {detail[:600]}\n"
                  f"  text: {base + suffix}; replay: python bench/soak.py --replay {base}.replay.json",
                  file=sys.stderr, flush=True)


# -- checkpoints -------------------------------------------------------------------------------

class Checkpoints:
    def __init__(self, every: int, unit: str, cache):
        self.every, self.unit, self.capacity = every, unit, cache.capacity
        self.max_weight = getattr(cache, "max_weight", None)
        self.rows: list[dict] = []
        self.times: list[float] = []
        self.mark = 0  # times before this index belong to earlier checkpoints

    def add_time(self, seconds: float) -> None:
        self.times.append(seconds)

    def take(self, s: Session, count: int, edits: int, extra: str = "") -> None:
        gc.collect()
        recent = self.times[self.mark:] or [0.0]
        self.mark = len(self.times)
        cache = s.engine.functions
        row = {"count": count, "edits": edits, "rss": rss_mb(), "blocks": sys.getallocatedblocks(),
               "median_ms": 1000 * statistics.median(recent),
               "p95_ms": 1000 * sorted(recent)[int(0.95 * (len(recent) - 1))],
               "cache": len(cache), "hits": cache.hits, "misses": cache.misses,
               "weight": getattr(cache, "weight", None)}
        self.rows.append(row)
        weight = f", weight {row['weight']:,}" if row["weight"] is not None else ""
        print(f"{self.unit} {count:>6,}: RSS {row['rss']:7.1f} MB, {row['blocks']:>9,} blocks, "
              f"median {row['median_ms']:6.2f} ms/edit, p95 {row['p95_ms']:7.2f} ms, function cache {len(cache):,} "
              f"({cache.hits:,} hits, {cache.misses:,} misses{weight}){extra}", flush=True)

    def table(self, warmup: int) -> bool:
        first = self.unit == "edit"
        print(f"\n| {self.unit}s | " + ("" if first else "edits | ") +
              "RSS MB | allocated blocks | median ms per edit | p95 ms | function cache |")
        print("|---:|" + ("" if first else "---:|") + "---:|---:|---:|---:|---:|")
        for r in self.rows:
            print(f"| {r['count']:,} | " + ("" if first else f"{r['edits']:,} | ") +
                  f"{r['rss']:.1f} | {r['blocks']:,} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | {r['cache']:,} |")
        base = next((r for r in self.rows if r["count"] >= warmup), None)
        last = self.rows[-1] if self.rows else None
        if base is None or last is None or last is base:
            print(f"\nRSS after warm-up: not judged (no checkpoint after {warmup:,} {self.unit}s; run longer)")
            return True
        growth = (last["rss"] - base["rss"]) / base["rss"]
        blocks = (last["blocks"] - base["blocks"]) / base["blocks"]
        flat = growth < 0.10
        print(f"\nRSS after warm-up: {base['rss']:.1f} MB at {base['count']:,} {self.unit}s -> {last['rss']:.1f} MB at "
              f"{last['count']:,} ({growth:+.1%}; allocated blocks {blocks:+.1%}): "
              f"{'FLAT (under 10%)' if flat else 'GROWING (10% or more)'}")
        if not flat and last["cache"] > base["cache"]:
            bound = f"{self.capacity:,} entries" + (f" or a weight of {self.max_weight:,}" if self.max_weight else "")
            print(f"(the function cache grew meanwhile from {base['cache']:,} to {last['cache']:,} entries; its bound "
                  f"is {bound}: growth while it fills is expected; --cache-capacity 300 fills it early)")
        return flat


# -- a long session ------------------------------------------------------------------------------

def new_session(args) -> Session:
    s = Session()
    if args.cache_capacity is not None:
        s.engine.functions.capacity = args.cache_capacity
    if args.cache_weight is not None:
        s.engine.functions.max_weight = args.cache_weight
    return s


def apply(s: Session, uri: str, ed: Editor, version: int, edit: tuple[int, int, str], analyse: bool,
          log: Optional[list]) -> Optional[float]:
    """Send one edit and (with `analyse`) ask for diagnostics, as the server does; the
    seconds it took, or None when the edit would split a line break (not sent)."""
    a, b, new = edit
    if ed.splits_break(a) or ed.splits_break(b):
        return None
    change = ed.change(a, b, new)
    if log is not None:
        log.append([a, b, new, analyse])
    start = time.perf_counter()
    s.change(uri, version, [change])
    if analyse:
        got = document_diagnostics(s, uri)
        if got is None or got[0] != version:
            raise AssertionError(f"diagnostics of version {got and got[0]}, expected {version}")
    return time.perf_counter() - start


def failed(error: Exception) -> dict:
    """A crash of the session, as a mismatch."""
    import traceback

    return {"kind": "exception", "diff": {"exception": f"{type(error).__name__}: {error}"},
            "traceback": "".join(traceback.format_exception(error))}


def soak(args) -> int:
    text, ctx = generate.generate_file(f"soak-{args.seed}", 0, args.lines, args.profile)
    uri = f"file://{SOAK_DIR}/soak.c"
    s = new_session(args)
    s.encoding = args.encoding
    ed = Editor(text, s.encoding)
    print(f"lockls soak: {text.count(chr(10)):,} lines ({len(text.encode()):,} bytes, {ctx.functions} functions, "
          f"profile {args.profile}), {args.edits:,} edits, seed {args.seed!r}, positions in {s.encoding}", flush=True)
    started = time.perf_counter()
    s.open(uri, text, 0, "c")
    document_diagnostics(s, uri)
    print(f"open + first diagnostics: {time.perf_counter() - started:.2f} s, RSS {rss_mb():.1f} MB", flush=True)
    rng = random.Random(f"lockls-soak:{args.seed}")
    kb = Keyboard(ed, rng, len(text))
    points = Checkpoints(args.every, "edit", s.engine.functions)
    mismatches = Mismatches(args.out, args.show)
    log: Optional[list] = [] if args.parity else None  # the edit script, kept only to replay a mismatch
    script = {"uri": uri, "encoding": s.encoding, "initial": text, "edits": log, "seed": f"soak {args.seed}"}
    checks = 0
    version = 0
    burst = kb.burst()
    while version < args.edits:
        edit = next(burst, None)
        if edit is None:
            burst = kb.burst()
            continue
        try:
            seconds = apply(s, uri, ed, version + 1, edit, True, log)
        except Exception as e:  # a crash in the session: record it, start the document afresh
            mismatches.add(failed(e), ed, script, f"at edit {version + 1}")
            s.close(uri)
            s.open(uri, ed.text, version + 1, "c")
            script = {"uri": uri, "encoding": s.encoding, "initial": ed.text, "edits": [] if args.parity else None}
            log = script["edits"]
            seconds = None
            version += 1
        if seconds is None:
            burst = kb.burst()
            continue
        version += 1
        points.add_time(seconds)
        if args.parity and version % args.parity == 0:
            checks += 1
            what = parity(s, uri, ed)
            if what is not None:
                mismatches.add(what, ed, script, f"after edit {version}")
        if version % args.every == 0 or version == args.edits:
            last = s.analyses.get(uri)
            broken = len(last.skipped) + len(last.damaged) if last is not None else 0
            points.take(s, version, version, f", {ed.text.count(chr(10)) + 1:,} lines, {broken} skipped")
    wall = time.perf_counter() - started
    flat = points.table(args.warmup)
    times = points.times
    print(f"\n{args.edits:,} edits in {wall:.1f} s; per edit (change + diagnostics): median "
          f"{1000 * statistics.median(times):.2f} ms, p95 {1000 * sorted(times)[int(0.95 * (len(times) - 1))]:.2f} ms, "
          f"max {1000 * max(times):.0f} ms; function cache {len(s.engine.functions):,} of "
          f"{s.engine.functions.capacity:,}")
    if args.parity:
        print(f"parity: {checks:,} checks (every {args.parity} edits), {mismatches.count} mismatches"
              + (f" {mismatches.kinds}; saved in {args.out}" if mismatches.count else ""))
    return 1 if mismatches.count or (not flat and args.strict_memory) else 0


# -- many short sequences ------------------------------------------------------------------------

def sequence_seeds() -> list[tuple[str, str]]:
    seeds = []
    for pattern in ("tests/fixtures/**/*.c", "tests/fixtures/**/*.h", "examples/**/*.c"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
            with open(path, encoding="utf-8", errors="replace", newline="") as f:
                seeds.append((os.path.relpath(path, ROOT), f.read()))
    for profile in generate.PROFILES:
        for i, lines in enumerate((60, 150, 300, 600)):
            text, _ = generate.generate_file(f"soak-seq-{profile}", i, lines, profile)
            seeds.append((f"generate.py --profile {profile} --lines {lines}", text))
    return seeds


def sequences(args) -> int:
    seeds = sequence_seeds()
    s = new_session(args)
    rng = random.Random(f"lockls-soak-seq:{args.seed}")
    points = Checkpoints(max(1, args.sequences // 10), "sequence", s.engine.functions)
    mismatches = Mismatches(args.out, args.show)
    checks = edits = 0
    started = time.perf_counter()
    print(f"lockls soak: {args.sequences:,} sequences of 10-20 edits on {len(seeds)} seed files, seed {args.seed!r}, "
          "one session", flush=True)
    for n in range(1, args.sequences + 1):
        name, text = seeds[rng.randrange(len(seeds))]
        if rng.random() < 0.15:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
            name += " (CRLF)"
        s.encoding = rng.choice((UTF16, UTF16, UTF8))
        uri = f"file://{SOAK_DIR}/seq{n % 4}{'.h' if rng.random() < 0.1 else '.c'}"
        ed = Editor(text, s.encoding)
        log: list = []
        script = {"uri": uri, "encoding": s.encoding, "initial": text, "edits": log, "seed": name, "sequence": n}
        s.open(uri, text, 0, "c")
        document_diagnostics(s, uri)
        kb = Keyboard(ed, rng, len(text), hostile=True)
        length = rng.randint(10, 20)
        middle = rng.randint(3, length - 1)
        version = 0
        burst = kb.burst()
        while version < length:
            edit = next(burst, None)
            if edit is None:
                burst = kb.burst()
                continue
            analyse = version + 1 == length or rng.random() < 0.7
            try:
                seconds = apply(s, uri, ed, version + 1, edit, analyse, log)
                if seconds is None:
                    burst = kb.burst()
                    continue
                version += 1
                edits += 1
                if analyse:
                    points.add_time(seconds)
                what = parity(s, uri, ed) if version in (middle, length) else None
                checks += version in (middle, length)
            except Exception as e:  # a crash in the session
                what = failed(e)
            if what is not None:
                script["checked_after"] = len(log)
                mismatches.add(what, ed, script, f"in sequence {n} after edit {len(log)} (seed {name})")
                break
        s.close(uri)
        if n % points.every == 0 or n == args.sequences:
            points.take(s, n, edits, f", {mismatches.count} mismatches")
    wall = time.perf_counter() - started
    flat = points.table(max(1, args.sequences // 5))
    print(f"\n{args.sequences:,} sequences, {edits:,} edits in {wall:.1f} s; parity: {checks:,} checks, "
          f"{mismatches.count} mismatches" + (f" {mismatches.kinds}; saved in {args.out}" if mismatches.count else ""))
    return 1 if mismatches.count or (not flat and args.strict_memory) else 0


def replay(path: str) -> int:
    """Run an edit script again in a fresh session; 1 if it still mismatches (or crashes)."""
    with open(path, encoding="utf-8") as f:
        script = json.load(f)
    s = Session()
    s.encoding = script["encoding"]
    uri = script["uri"]
    ed = Editor(script["initial"], s.encoding)
    s.open(uri, script["initial"], 0, "c")
    document_diagnostics(s, uri)
    try:
        for version, (a, b, new, analyse) in enumerate(script["edits"], 1):
            apply(s, uri, ed, version, (a, b, new), analyse, None)
        what = parity(s, uri, ed)
    except Exception as e:
        what = failed(e)
    print(f"{len(script['edits'])} edits replayed in a fresh session (seed {script.get('seed', '?')}): "
          + ("no mismatch" if what is None else f"MISMATCH ({what['kind']}): "
             f"{json.dumps(what.get('diff', {}), ensure_ascii=False)[:2000]}"))
    if what is not None and "traceback" in what:
        print(what["traceback"])
    return 0 if what is None else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__[__doc__.index("Usage:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=5000, help="keystroke edits of the long session (default 5000)")
    ap.add_argument("--lines", type=int, default=5000, help="lines of the generated file (default 5000)")
    ap.add_argument("--profile", choices=generate.PROFILES, default="plain", help="bench/generate.py profile")
    ap.add_argument("--seed", default="1", help="seed (default 1): same seed, same edits")
    ap.add_argument("--encoding", choices=(UTF16, UTF8), default=UTF16, help="position encoding (default utf-16)")
    ap.add_argument("--every", type=int, default=500, help="edits between memory checkpoints (default 500)")
    ap.add_argument("--warmup", type=int, default=1000, help="RSS growth is measured from here (default 1000)")
    ap.add_argument("--parity", type=int, default=0, metavar="M",
                    help="compare with a fresh analysis every M edits (default: never)")
    ap.add_argument("--sequences", type=int, default=0, metavar="S",
                    help="run S short edit sequences for parity instead of the long session")
    ap.add_argument("--replay", metavar="FILE", help="run a saved edit script (.replay.json) in a fresh session")
    ap.add_argument("--out", default=SOAK_DIR, help=f"where mismatches are saved (default {SOAK_DIR})")
    ap.add_argument("--show", type=int, default=3, help="mismatches printed in full (default 3)")
    ap.add_argument("--cache-capacity", type=int, metavar="N",
                    help="entries of the engine's function cache (default: the engine's, 20000); a small one fills "
                         "early, so RSS growing after that is not the cache filling up")
    ap.add_argument("--cache-weight", type=int, metavar="W",
                    help="the function cache's bound in weight units (engine.driver.result_weight), if it has one")
    ap.add_argument("--strict-memory", action="store_true", help="exit 1 when RSS is not flat after warm-up")
    args = ap.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.sequences:
        return sequences(args)
    if args.edits < 1 or args.every < 1:
        ap.error("--edits and --every must be >= 1")
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
