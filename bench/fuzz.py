#!/usr/bin/env python3
"""Mutation-fuzz lockls with hostile, real-looking C: the analysis and the CLI.

Seeds are the project's own C (tests/fixtures/**/*.[ch], examples/**/*.[ch]) and
modules of bench/generate.py (every profile, 60 to 1,200 lines). Each input is a
seed put through 1 to 8 mutations: chunks of bytes inserted, deleted or
duplicated; C tokens inserted (braces, parentheses, `;`, `goto`, `return`,
`#if 0`/`#endif`, comment and string delimiters, backslashes, NUL, 0xff, lock
and unlock calls); lock and unlock calls swapped, keywords swapped, identifiers
renamed; lines deleted, duplicated or moved; two files spliced; truncation;
bursts of deep nesting (`if (x) {` x N, `(` x N, else-if and && chains,
`#if` x N); long words, strings, comments and lines; non-ASCII and invalid
UTF-8; CR, CRLF and mixed line endings, form feeds. Input number i of seed S is
always the same bytes (`--replay i` runs it again).

Every input goes through `lockls.engine.driver.analyze_source` in a worker
process (default configuration); one in `--cli-every` (default 50) also through
`python -m lockls --check --no-cache --jobs 1 --format F FILE` for F in text,
json, sarif and github. A failure is:

  exception        an exception escaping analyze_source
  internal-error   "internal error" in the result's `skipped` or `error`
  invalid-span     a finding whose byte range is not inside the input
  memory           the worker's peak RSS went over `--max-rss` on this input
  hang             an input analysed for longer than `--timeout` (default 10 s;
                   the worker is stopped by an alarm, or killed if it does not
                   come back) -- the stacks at that moment go in the note
  worker-died      the worker process ended (a crash in C code: tree-sitter)
  cli-exit         an exit status other than 0 or 1 (or the CLI timed out)
  cli-traceback    a Python traceback, or "internal error", on stderr
  cli-json / cli-sarif / cli-github   output that does not parse as that format
  cli-mismatch     the formats, or the CLI and the in-process analysis, disagree
                   on the number of findings

Every failing input is saved to `--out` (default /tmp/lockls-fuzz) as
NNNNNNN-KIND.c (or .h) with a note NNNNNNN-KIND.txt (what failed, the
mutations, the traceback, how to replay it). The report ends with a Markdown
table: inputs, CLI runs, crashes, hangs, the slowest input, inputs/second. The
exit status is 1 if anything failed.

Usage:
    python bench/fuzz.py [--count 2000] [--seed 1] [--jobs 1] [--cli-every 50]
                         [--timeout 10] [--out /tmp/lockls-fuzz] [--max-rss 2048]
    python bench/fuzz.py --count 100000 --jobs 2 --cli-every 200    # the issue's long run
    python bench/fuzz.py --replay 1234 [--seed 1] [--save FILE]     # one input again, in the foreground
    python bench/fuzz.py --input FILE [--cli]                       # one file through every check
    python bench/fuzz.py --minimize FILE [--cli]                    # shrink a failing file (same failure kind)
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from multiprocessing.connection import wait
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER = os.path.join(ROOT, "server")

FORMATS = ("text", "json", "sarif", "github")
MAX_INPUT_BYTES = 1 << 20  # larger mutants are cut here


# -- the seed corpus -------------------------------------------------------------------

GENERATED_SIZES = (60, 120, 250, 400, 700, 1200)


def load_corpus() -> list[tuple[str, bytes]]:
    """(name, bytes) of every seed, in a fixed order: the project's C, then generated modules."""
    seeds = []
    for pattern in ("tests/fixtures/**/*.c", "tests/fixtures/**/*.h", "examples/**/*.c", "examples/**/*.h"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
            with open(path, "rb") as f:
                seeds.append((os.path.relpath(path, ROOT), f.read()))
    sys.path.insert(0, HERE)
    import generate

    for profile in generate.PROFILES:
        for i, lines in enumerate(GENERATED_SIZES):
            text, _ = generate.generate_file(f"fuzz-{profile}", i, lines, profile)
            seeds.append((f"generate.py --profile {profile} --lines {lines} (file {i})", text.encode()))
    return seeds


# -- mutations ---------------------------------------------------------------------------

TOKENS = [
    b"{", b"}", b"(", b")", b";", b"goto", b"goto out;", b"return", b"return;", b"return -1;", b"#if 0\n",
    b"#endif\n", b"#else\n", b"#ifdef DEBUG\n", b"#define X(a) a\n", b"#include <pthread.h>\n", b"#", b"##",
    b"/*", b"*/", b"//", b'"', b"'", b"\\", b"\\\n", b"\x00", b"\xff", b"else", b"else {", b"case 1:",
    b"default:", b"switch (x) {", b"do {", b"} while (0);", b"out:", b"err:", b"for (;;)", b"while (x)",
    b"break;", b"continue;", b",", b"->", b"&", b"*", b"[", b"]", b"?", b":", b"??/", b"L\"", b"u8'", b"...",
    b"__attribute__((guarded_by(mu)))", b"__attribute__((requires_capability(m)))", b"LK_GUARDED_BY(lock)",
    b"__acquires(x)", b"__releases(x)", b"__must_hold(&l)", b"__attribute__((no_thread_safety_analysis))",
    b"/* lockls: ignore[lock-leak] */", b"// lockls: ignore\n", b"/* lockls: ignore[*] */",
    b"// lockls: ignore[lock-lek]\n", b"typedef", b"struct", b"struct s {", b"static", b"inline", b"sizeof(",
    b"int f(void)", b"void g(int x) {", b"asm(\"\");", b"_Generic(", b"({", b"})", b"=", b"==", b"!",
]
LOCK_CALLS = [
    b"pthread_mutex_lock(&m);", b"pthread_mutex_unlock(&m);", b"if (pthread_mutex_trylock(&m) == 0)",
    b"pthread_mutex_lock(&v->lock);", b"pthread_mutex_unlock(&v->lock);", b"pthread_rwlock_rdlock(&rw);",
    b"pthread_rwlock_wrlock(&rw);", b"pthread_rwlock_unlock(&rw);", b"pthread_spin_lock(&s);",
    b"pthread_spin_unlock(&s);", b"mtx_lock(&mtx);", b"mtx_unlock(&mtx);", b"pthread_cond_wait(&c, &m);",
    b"spin_lock(&dev->lock);", b"spin_unlock(&dev->lock);", b"spin_lock_irqsave(&l, flags);",
    b"spin_unlock_irqrestore(&l, flags);", b"mutex_lock(&dev->mutex);", b"mutex_unlock(&dev->mutex);",
    b"guard(mutex)(&dev->mutex);", b"scoped_guard(spinlock, &l) {", b"rcu_read_lock();", b"rcu_read_unlock();",
    b"msleep(10);", b"might_sleep();", b"down_read(&sem);", b"up_read(&sem);", b"g_mutex_lock(&gm);",
    b"pthread_mutex_lock(a[i]);", b"pthread_mutex_lock(&(*p)->locks[n - 1]);", b"pthread_mutex_lock(0);",
    b"pthread_mutex_lock();", b"pthread_mutex_lock(&m", b"pthread_mutex_unlock(&m, &n);",
]
UNICODE = ["é", "日本語", "😀", "\u200b", "\u2028", "\u2029", "\ufeff", "\u202e", "e\u0301", "Ω", "𝔘",
           "\u00a0", "ﬁ", "İ", "ß", "\U0010ffff", "\u0000"]
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\x80", b"\xbf\xbf", b"\xe2\x82",
                b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xf0\x9f\x98"]
KEYWORD_SWAPS = [(rb"\bif\b", [b"while", b"for", b"switch", b"else if", b""]),
                 (rb"\bwhile\b", [b"if", b"for"]),
                 (rb"\breturn\b", [b"goto out;", b"break;", b"exit(1);", b""]),
                 (rb"\bbreak\b", [b"continue", b"return", b"goto out"]),
                 (rb"\bcontinue\b", [b"break"]),
                 (rb"\bgoto\b", [b"return", b"goto goto"]),
                 (rb"\belse\b", [b"", b"else if (x)"]),
                 (rb"==", [b"!=", b"="]), (rb"!=", [b"=="]),
                 (rb"\bstatic\b", [b"", b"extern"]),
                 (rb"\{", [b";", b"", b"{{"]), (rb"\}", [b"", b"}}", b";"]),
                 (rb";", [b"", b",", b";;"]), (rb"\(", [b"", b"(("]), (rb"\)", [b"", b"))"])]
LOCK_NAME = re.compile(rb"\b(\w*?)(un)?(lock|Lock|LOCK)(\w*)\s*\(")
IDENT = re.compile(rb"\b[A-Za-z_]\w{2,}\b")


def chunk_len(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return rng.randint(1, 8)
    if r < 0.85:
        return rng.randint(8, 256)
    return rng.randint(256, 4096)


def position(rng: random.Random, data: bytes) -> int:
    """Somewhere to insert: any byte (40%), a line start (30%), after `;`, `{` or `}` (30%)."""
    if not data:
        return 0
    i = rng.randrange(len(data) + 1)
    r = rng.random()
    if r < 0.4:
        return i
    if r < 0.7:
        j = data.find(b"\n", i)
        return j + 1 if j >= 0 else len(data)
    m = re.compile(rb"[;{}]").search(data, i)
    return m.end() if m else len(data)


def line_spans(data: bytes) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in re.finditer(rb"\n", data):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(data):
        spans.append((start, len(data)))
    return spans


def m_insert_bytes(rng, data, corpus):
    n = chunk_len(rng)
    if rng.random() < 0.5:
        chunk = bytes(rng.randrange(256) for _ in range(min(n, 64)))
    else:
        alphabet = b"abcxyz_019(){}[];,*&->.=!<>+\"'\\/# \t\n"
        chunk = bytes(rng.choice(alphabet) for _ in range(n))
    i = position(rng, data)
    return data[:i] + chunk + data[i:], f"insert {len(chunk)} bytes at {i}"


def m_delete(rng, data, corpus):
    if not data:
        return data, "delete (empty)"
    i = rng.randrange(len(data))
    n = chunk_len(rng)
    return data[:i] + data[i + n:], f"delete {n} bytes at {i}"


def m_duplicate(rng, data, corpus):
    if not data:
        return data, "duplicate (empty)"
    i = rng.randrange(len(data))
    chunk = data[i:i + chunk_len(rng)]
    if rng.random() < 0.5:
        times = rng.choice((1, 2, 3, 10, 50))
        return data[:i] + chunk * (times + 1) + data[i + len(chunk):], f"repeat {len(chunk)} bytes at {i} x{times + 1}"
    j = position(rng, data)
    return data[:j] + chunk + data[j:], f"copy {len(chunk)} bytes from {i} to {j}"


def m_token(rng, data, corpus):
    token = rng.choice(TOKENS) if rng.random() < 0.6 else rng.choice(LOCK_CALLS)
    if rng.random() < 0.3:
        token = b" " + token + b"\n"
    i = position(rng, data)
    return data[:i] + token + data[i:], f"insert {token!r} at {i}"


def m_lock_swap(rng, data, corpus):
    """Turn a lock call into an unlock call or back, delete one, or duplicate it."""
    calls = list(LOCK_NAME.finditer(data))
    if not calls:
        return m_token(rng, data, corpus)
    m = rng.choice(calls)
    r = rng.random()
    if r < 0.5:
        new = m.group(1) + (b"" if m.group(2) else b"un") + m.group(3) + m.group(4) + b"("
        return data[:m.start()] + new + data[m.end():], f"swap lock/unlock at {m.start()}"
    end = data.find(b";", m.end())
    end = end + 1 if end >= 0 else m.end()
    if r < 0.8:
        return data[:m.start()] + data[end:], f"delete call at {m.start()}"
    return data[:end] + b" " + data[m.start():end] + data[end:], f"duplicate call at {m.start()}"


def m_keyword(rng, data, corpus):
    pattern, replacements = rng.choice(KEYWORD_SWAPS)
    hits = list(re.finditer(pattern, data))
    if not hits:
        return m_token(rng, data, corpus)
    m = rng.choice(hits)
    new = rng.choice(replacements)
    return data[:m.start()] + new + data[m.end():], f"replace {m.group()!r} by {new!r} at {m.start()}"


def m_rename(rng, data, corpus):
    idents = IDENT.findall(data[:200_000])
    if not idents:
        return m_token(rng, data, corpus)
    old = rng.choice(idents)
    new = rng.choice([old + b"2", b"m", b"lock", b"unlock", b"if", b"return", old[:-1], rng.choice(idents)])
    pattern = re.compile(rb"\b" + re.escape(old) + rb"\b")
    if rng.random() < 0.5:
        return pattern.sub(new, data), f"rename {old!r} to {new!r} everywhere"
    hits = list(pattern.finditer(data))
    m = rng.choice(hits)
    return data[:m.start()] + new + data[m.end():], f"rename one {old!r} to {new!r} at {m.start()}"


def m_lines(rng, data, corpus):
    spans = line_spans(data)
    if len(spans) < 2:
        return m_delete(rng, data, corpus)
    a, b = spans[rng.randrange(len(spans))]
    r = rng.random()
    if r < 0.35:
        n = rng.choice((1, 1, 2, 5, 20))
        end = spans[min(len(spans) - 1, spans.index((a, b)) + n - 1)][1]
        return data[:a] + data[end:], f"delete {n} line(s) at {a}"
    if r < 0.6:
        return data[:b] + data[a:b] + data[b:], f"duplicate the line at {a}"
    c, _ = spans[rng.randrange(len(spans))]
    line = data[a:b]
    rest = data[:a] + data[b:]
    c = c if c < a else max(a, c - len(line))
    return rest[:c] + line + rest[c:], f"move the line at {a} to {c}"


def m_splice(rng, data, corpus):
    name, other = rng.choice(corpus)
    r = rng.random()
    if r < 0.4:
        i, j = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
        return data[:i] + other[j:], f"splice [:{i}] + {name}[{j}:]"
    if r < 0.8:
        i, j = position(rng, data), rng.randrange(len(other) + 1)
        chunk = other[j:j + rng.choice((100, 1000, 5000))]
        return data[:i] + chunk + data[i:], f"insert {len(chunk)} bytes of {name} at {i}"
    return data + b"\n" + other, f"append {name}"


def m_truncate(rng, data, corpus):
    i = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        j = data.rfind(b"\n", 0, i)
        i = j + 1 if j >= 0 else i
    return data[:i], f"truncate at {i}"


def m_nesting(rng, data, corpus):
    """A burst of deep nesting, in a function body or at a line start."""
    n = rng.choice((20, 50, 100, 200, 500, 500, 1000, 2000, 4000))
    kind = rng.choice(("if", "if-open", "braces", "parens", "elseif", "and", "while", "preproc", "locks",
                       "switch", "labels", "ternary", "casts"))
    if kind == "if":
        burst = b"if (x) {\n" * n + b"pthread_mutex_unlock(&m);\n" + b"}\n" * n
    elif kind == "if-open":
        burst = b"if (x) {\n" * n + b"return;\n"
    elif kind == "braces":
        burst = b"{" * n + (b"}" * n if rng.random() < 0.5 else b"")
    elif kind == "parens":
        burst = b"x = " + b"(" * n + b"y" + (b")" * n if rng.random() < 0.7 else b"") + b";\n"
    elif kind == "elseif":
        burst = b"".join(b"if (c == %d) { pthread_mutex_unlock(&m); return %d; }\nelse " % (i, i)
                         for i in range(n)) + b"return 0;\n"
    elif kind == "and":
        burst = b"if (" + b" && ".join(b"a[%d]" % i for i in range(n)) + b")\n    return 1;\n"
    elif kind == "while":
        burst = b"while (x) {\n" * n + b"break;\n" + b"}\n" * n
    elif kind == "preproc":
        burst = b"#if X\n" * n + b"x++;\n" + b"#else\ny++;\n#endif\n" * n
    elif kind == "locks":
        burst = b"".join(b"pthread_mutex_lock(&m%d);\nif (a[%d]) {\n" % (i % 64, i) for i in range(n)) + \
            b"goto out;\n" + b"}\n" * n
    elif kind == "switch":
        burst = b"switch (x) {\n" + b"".join(b"case %d: if (y) break;\n" % i for i in range(n)) + b"}\n"
    elif kind == "labels":
        burst = b"".join(b"l%d: if (a[%d]) goto l%d;\n" % (i, i, rng.randrange(n)) for i in range(n))
    elif kind == "ternary":
        burst = b"x = " + b"a ? " * n + b"b" + b" : c" * n + b";\n"
    else:
        burst = b"x = " + b"(int)" * n + b"y;\n"
    hits = [m.end() for m in re.finditer(rb"\)\s*\{\n", data[:200_000])]
    i = rng.choice(hits) if hits and rng.random() < 0.8 else position(rng, data)
    return data[:i] + burst + data[i:], f"nesting {kind} x{n} at {i}"


def m_long(rng, data, corpus):
    n = rng.choice((1_000, 10_000, 100_000))
    kind = rng.choice(("ident", "string", "comment", "number", "line", "continuations", "field", "semicolons"))
    if kind == "ident":
        word = b"a" * n
        hits = list(IDENT.finditer(data[:200_000]))
        if hits and rng.random() < 0.5:
            m = rng.choice(hits)
            return data[:m.start()] + word + data[m.end():], f"identifier at {m.start()} made {n} long"
        burst = word + b";\n"
    elif kind == "string":
        burst = b'log("' + b"x" * n + b'");\n'
    elif kind == "comment":
        burst = b"/* " + b"lock " * (n // 5) + b"*/\n"
    elif kind == "number":
        burst = b"x = " + b"9" * n + b";\n"
    elif kind == "line":
        burst = b"x = " + b" + ".join(b"v%d" % i for i in range(n // 8)) + b";\n"
    elif kind == "continuations":
        burst = b"#define BIG \\\n" + b"    x++; \\\n" * (n // 10) + b"\n"
    elif kind == "field":
        burst = b"s->" + b"->".join(b"f" for _ in range(n // 3)) + b" = 0;\n"
    else:
        burst = b";" * n + b"\n"
    i = position(rng, data)
    return data[:i] + burst + data[i:], f"long {kind} ({n}) at {i}"


def m_unicode(rng, data, corpus):
    r = rng.random()
    if r < 0.1:
        return b"\xef\xbb\xbf" + data, "byte order mark"
    if r < 0.55:
        text = "".join(rng.choice(UNICODE) for _ in range(rng.randint(1, 5))).encode("utf-8", "surrogatepass")
        hits = list(IDENT.finditer(data[:200_000]))
        if hits and rng.random() < 0.5:  # inside an identifier: a lock name, a field, a function name
            m = rng.choice(hits)
            k = rng.randint(m.start(), m.end())
            return data[:k] + text + data[k:], f"insert {text!r} in an identifier at {k}"
        i = position(rng, data)
        return data[:i] + text + data[i:], f"insert {text!r} at {i}"
    bad = rng.choice(INVALID_UTF8) * rng.choice((1, 1, 3))
    if rng.random() < 0.3:  # cut a multi-byte character in half
        starts = [m.start() for m in re.finditer(rb"[\xc2-\xf4]", data)]
        if starts:
            k = rng.choice(starts) + 1
            return data[:k] + data[k + 1:], f"cut the multi-byte character at {k - 1}"
    i = position(rng, data)
    return data[:i] + bad + data[i:], f"insert invalid UTF-8 {bad!r} at {i}"


def m_line_endings(rng, data, corpus):
    r = rng.random()
    if r < 0.3:
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), "CRLF line endings"
    if r < 0.45:
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r"), "CR line endings"
    if r < 0.75:
        parts = data.split(b"\n")
        return b"".join(p + rng.choice((b"\n", b"\r\n", b"\r", b"\n\r")) for p in parts[:-1]) + parts[-1], \
            "mixed line endings"
    token = rng.choice((b"\r", b"\f", b"\v", b"\f\n", b"\\\r\n", b"\t" * 50, b"\r\r\n"))
    i = position(rng, data)
    return data[:i] + token + data[i:], f"insert {token!r} at {i}"


# (mutation, weight): the expensive ones (nesting, long words) are rarer
MUTATIONS = [
    (m_insert_bytes, 8), (m_delete, 10), (m_duplicate, 8), (m_token, 16), (m_lock_swap, 10), (m_keyword, 8),
    (m_rename, 5), (m_lines, 10), (m_splice, 5), (m_truncate, 4), (m_nesting, 3), (m_long, 2), (m_unicode, 6),
    (m_line_endings, 5),
]
_FUNCS = [m for m, _ in MUTATIONS]
_WEIGHTS = [w for _, w in MUTATIONS]


def make_input(corpus: list, seed: str, index: int) -> tuple[bytes, str, list[str]]:
    """Input `index` of `seed`: (bytes, ".c" or ".h", what was done to which seed). Pure: same arguments, same bytes."""
    rng = random.Random(f"lockls-fuzz:{seed}:{index}")
    name, data = corpus[rng.randrange(len(corpus))]
    steps = [f"seed {name}"]
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 8))):
        mutate = rng.choices(_FUNCS, _WEIGHTS)[0]
        data, what = mutate(rng, data, corpus)
        steps.append(what)
        if len(data) > MAX_INPUT_BYTES:
            data = data[:MAX_INPUT_BYTES]
            steps.append(f"cut to {MAX_INPUT_BYTES} bytes")
    suffix = ".h" if rng.random() < 0.1 else ".c"
    return data, suffix, steps


# -- checking one input (in a worker) ------------------------------------------------------

class Hang(BaseException):
    """Raised by the alarm in the analysis; carries the stacks at that moment."""


def _on_alarm(signum, frame):
    stacks = []
    main = threading.main_thread().ident  # first: the innermost frame of the last thread names the hang
    for ident, f in sorted(sys._current_frames().items(), key=lambda kv: kv[0] != main):
        frames = traceback.extract_stack(f)
        first = next((i for i, fr in enumerate(frames) if "lockls" in fr.filename and HERE not in fr.filename), 0)
        stacks.append(f"thread {ident}:\n" + "".join(traceback.format_list(frames[first:][-25:])))
    raise Hang("\n".join(stacks))


class _Capture(logging.Handler):
    """Keeps the tracebacks lockls logs when it catches an internal error itself."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


def _where(tb_text: str) -> str:
    """The innermost frame of a traceback as 'file:function' (for grouping failures)."""
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', tb_text)
    for path, func in reversed(frames):
        if "lockls" in path:
            return f"{path.split('lockls/', 1)[-1]}:{func}"
    return f"{frames[-1][0].rsplit('/', 1)[-1]}:{frames[-1][1]}" if frames else "?"


class Checker:
    """Runs inputs through analyze_source (and the CLI); one per worker process."""

    def __init__(self, timeout: float, workdir: str, max_rss_mb: float, server: str = SERVER):
        from lockls.config import default_config
        from lockls.engine.driver import analyze_source

        self.analyze_source = analyze_source
        self.config = default_config()
        self.timeout = timeout
        self.workdir = workdir
        self.max_rss_mb = max_rss_mb
        self.capture = _Capture()
        logging.getLogger("lockls").addHandler(self.capture)
        logging.getLogger("lockls").propagate = False  # no tracebacks on the fuzzer's stderr
        signal.signal(signal.SIGALRM, _on_alarm)
        self.env = dict(os.environ, PYTHONPATH=server + os.pathsep + os.environ.get("PYTHONPATH", ""),
                        LOCKLS_CACHE_DIR=os.path.join(workdir, "cache"), PYTHONIOENCODING="utf-8")

    def check(self, data: bytes, suffix: str, cli: bool) -> dict:
        """{"seconds", "failures": [(kind, signature, detail)], "findings", "skipped", "partial", "hang", ...}"""
        rec = {"seconds": 0.0, "failures": [], "findings": None, "skipped": 0, "partial": 0, "hang": False,
               "cli_runs": 0, "bytes": len(data)}
        fail = rec["failures"]
        self.capture.records.clear()
        path = "fuzz" + suffix
        result = None
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            result = self.analyze_source(data, path, self.config)
        except Hang as h:
            rec["hang"] = True
            fail.append(("hang", f"over {self.timeout:g} s at {_where(str(h))}",
                         f"stacks after {self.timeout:g} s:\n{h}"))
        except RecursionError as e:
            fail.append(("exception", f"RecursionError at {_where(traceback.format_exc())}",
                         "".join(traceback.format_exception(e)[-40:])))
        except Exception as e:
            tb = traceback.format_exc()
            fail.append(("exception", f"{type(e).__name__} at {_where(tb)}", tb))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        rec["seconds"] = time.perf_counter() - start
        if result is not None:
            rec["findings"] = len(result.findings)
            rec["skipped"] = len(result.skipped)
            rec["partial"] = len(result.partial)
            internal = [s for s in result.skipped if "internal error" in s]
            if result.error and "internal error" in result.error:
                internal.append(result.error)
            for text in internal:
                tb = "\n".join(self.capture.records)
                kind = re.search(r"internal error: (\w+)", text)
                fail.append(("internal-error", f"{kind.group(1) if kind else '?'} at {_where(tb)}", f"{text}\n{tb}"))
            for f in result.findings:
                spans = [f.span] + [r.span for r in f.related if r.path == path]
                bad = [s for s in spans if not (0 <= s.start_byte <= s.end_byte <= len(data))
                       or s.start.line > s.end.line]
                if bad:
                    fail.append(("invalid-span", f"{f.rule} span", f"{f.rule} in {f.function}: {f.text}\n"
                                 f"spans {[(s.start_byte, s.end_byte) for s in bad]} in {len(data)} bytes"))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rec["rss_mb"] = rss
        if rss > self.max_rss_mb:
            fail.append(("memory", f"peak RSS over {self.max_rss_mb:g} MB", f"peak RSS {rss:.0f} MB"))
            rec["hang"] = True  # the worker is replaced: its peak cannot come down
        if cli and not rec["hang"]:
            self.check_cli(data, suffix, rec)
        return rec

    def check_cli(self, data: bytes, suffix: str, rec: dict) -> None:
        fail = rec["failures"]
        target = os.path.join(self.workdir, "input" + suffix)
        with open(target, "wb") as f:
            f.write(data)
        counts = {}
        for fmt in FORMATS:
            cmd = [sys.executable, "-m", "lockls", "--check", "--no-cache", "--jobs", "1", "--format", fmt, target]
            rec["cli_runs"] += 1
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=self.timeout * 3 + 10, cwd=self.workdir,
                                      env=self.env)
            except subprocess.TimeoutExpired:
                fail.append(("cli-exit", f"{fmt}: timed out", f"{' '.join(cmd)}: no exit after "
                             f"{self.timeout * 3 + 10:g} s"))
                continue
            out = done.stdout.decode("utf-8", "replace")
            err = done.stderr.decode("utf-8", "replace")
            what = f"$ {' '.join(cmd)}\nexit status {done.returncode}\n--- stderr ---\n{err[-8000:]}"
            if done.returncode not in (0, 1):
                fail.append(("cli-exit", f"{fmt}: exit status {done.returncode}", what))
            if "Traceback (most recent call last)" in err or "internal error" in err:
                line = next((l for l in reversed(err.splitlines()) if "Error" in l or "internal error" in l), "?")
                fail.append(("cli-traceback", f"{fmt}: {re.sub(r'[0-9]+', 'N', line.strip())[:100]}", what))
            try:
                if fmt == "json":
                    doc = json.loads(out)
                    if not isinstance(doc, list):
                        raise ValueError("not a list of findings")
                    counts["json"] = len(doc)
                elif fmt == "sarif":
                    doc = json.loads(out)
                    if doc.get("version") != "2.1.0" or not isinstance(doc.get("runs"), list):
                        raise ValueError("not a SARIF 2.1.0 log")
                    counts["sarif"] = sum(len(run.get("results", [])) for run in doc["runs"])
                elif fmt == "github":
                    lines = [l for l in out.splitlines() if l.strip()]
                    odd = [l for l in lines if not l.startswith("::")]
                    if odd:
                        raise ValueError(f"not a workflow command: {odd[0][:200]!r}")
                    counts["github"] = len(lines)
            except (ValueError, AttributeError) as e:
                fail.append((f"cli-{fmt}", f"{type(e).__name__}", f"{what}\n--- stdout ---\n{out[:4000]}\n{e}"))
        if rec["findings"] is not None:
            counts["in-process"] = rec["findings"]
        if len(set(counts.values())) > 1:
            fail.append(("cli-mismatch", "finding counts differ", f"findings per output: {counts}"))


# -- the worker pool ------------------------------------------------------------------------

def _worker_main(conn, corpus, seed, timeout, workdir, max_rss_mb, server):
    sys.path.insert(0, server)
    checker = Checker(timeout, workdir, max_rss_mb, server)
    conn.send(("ready", os.getpid()))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        index, cli = msg
        data, suffix, steps = make_input(corpus, seed, index)
        rec = checker.check(data, suffix, cli)
        rec["index"] = index
        conn.send(("done", rec))
        if rec["hang"]:
            os._exit(0)  # an interrupted analysis may leave state behind: start a fresh worker


class Worker:
    def __init__(self, ctx, n: int, args, corpus, root_tmp: str):
        self.workdir = tempfile.mkdtemp(prefix=f"w{n}-", dir=root_tmp)
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, corpus, args.seed, args.timeout, self.workdir, args.max_rss, args.server))
        self.proc.start()
        child.close()
        self.job: Optional[tuple[int, bool]] = None
        self.deadline = 0.0
        self.ready = False

    def send(self, index: int, cli: bool, timeout: float) -> None:
        self.job = (index, cli)
        self.sent = time.monotonic()
        # the worker's alarm stops the analysis after `timeout`; this catches a hang in C code
        self.deadline = time.monotonic() + timeout * 2 + 30 + (4 * (timeout * 3 + 10) if cli else 0)
        self.conn.send((index, cli))

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Report:
    """What the run found, and its figures."""

    def __init__(self, args, corpus):
        self.args, self.corpus = args, corpus
        self.inputs = 0
        self.cli_inputs = 0
        self.cli_runs = 0
        self.failed_inputs = 0
        self.hangs = 0
        self.groups: dict[tuple, list] = {}  # (kind, signature) -> [saved paths]
        self.slowest = (0.0, -1, 0)  # seconds, index, bytes
        self.seconds = 0.0
        self.over_1s = 0
        self.with_findings = self.with_skipped = self.with_partial = 0
        self.peak_rss = 0.0
        self.saved = 0

    def add(self, rec: dict) -> None:
        self.inputs += 1
        self.seconds += rec["seconds"]
        if rec["seconds"] > self.slowest[0]:
            self.slowest = (rec["seconds"], rec["index"], rec.get("bytes", 0))
        self.over_1s += rec["seconds"] > 1.0
        if rec.get("cli_runs"):
            self.cli_inputs += 1
            self.cli_runs += rec["cli_runs"]
        self.with_findings += bool(rec.get("findings"))
        self.with_skipped += bool(rec.get("skipped"))
        self.with_partial += bool(rec.get("partial"))
        self.peak_rss = max(self.peak_rss, rec.get("rss_mb", 0.0))
        if rec["failures"]:
            self.failed_inputs += 1
            self.hangs += any(kind == "hang" for kind, _, _ in rec["failures"])
            self.save(rec)

    def save(self, rec: dict) -> None:
        index = rec["index"]
        data, suffix, steps = make_input(self.corpus, self.args.seed, index)
        os.makedirs(self.args.out, exist_ok=True)
        kinds = "+".join(sorted({kind for kind, _, _ in rec["failures"]}))
        base = os.path.join(self.args.out, f"{index:07d}-{kinds}")
        with open(base + suffix, "wb") as f:
            f.write(data)
        lines = [f"lockls fuzz input {index} of seed {self.args.seed!r} ({len(data)} bytes, analysed in "
                 f"{rec['seconds']:.2f} s)", "",
                 f"replay: python bench/fuzz.py --seed {self.args.seed} --replay {index}",
                 f"    or: python bench/fuzz.py --input {base + suffix}{' --cli' if rec.get('cli_runs') else ''}",
                 "", "mutations:"] + [f"  {s}" for s in steps] + [""]
        for kind, signature, detail in rec["failures"]:
            lines += [f"== {kind}: {signature}", detail.rstrip(), ""]
            self.groups.setdefault((kind, signature), []).append(base + suffix)
        with open(base + ".txt", "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        self.saved += 1

    def failure(self, index: int, kind: str, signature: str, detail: str, cli: bool, seconds: float = 0.0) -> None:
        self.add({"index": index, "seconds": seconds, "failures": [(kind, signature, detail)],
                  "cli_runs": len(FORMATS) if cli else 0})

    def print(self, wall: float, file=sys.stdout) -> None:
        a = self.args
        s, i, n = self.slowest
        if i >= 0:
            _, _, steps = make_input(self.corpus, a.seed, i)
            slowest = f"#{i}, {s:.2f} s ({n:,} bytes: {'; '.join(steps)[:160]})"
        else:
            slowest = "—"
        crashes = sum(len(v) for (kind, _), v in self.groups.items() if kind != "hang")
        print(f"\nlockls fuzz: seed {a.seed!r}, {len(self.corpus)} seed files, jobs {a.jobs}, "
              f"timeout {a.timeout:g} s\n", file=file)
        print("| measure | value |", file=file)
        print("|---|---|", file=file)
        rows = [
            ("inputs", f"{self.inputs:,}"),
            ("CLI runs", f"{self.cli_runs:,} ({self.cli_inputs:,} inputs x {len(FORMATS)} formats)"),
            ("crashes", f"{crashes:,} failures in {self.failed_inputs - self.hangs:,} inputs" if crashes else "0"),
            ("hangs", f"{self.hangs:,} (over {a.timeout:g} s)"),
            ("slowest input", slowest),
            ("inputs over 1 s", f"{self.over_1s:,}"),
            ("inputs/second", f"{self.inputs / wall:.1f}" if wall else "—"),
            ("in-process analysis", f"{self.seconds:.1f} s, mean {1000 * self.seconds / max(self.inputs, 1):.1f} ms"),
            ("wall time", f"{wall:.1f} s"),
            ("peak worker RSS", f"{self.peak_rss:.0f} MB"),
            ("inputs with findings / skipped functions / partial",
             f"{self.with_findings:,} / {self.with_skipped:,} / {self.with_partial:,}"),
        ]
        for k, v in rows:
            print(f"| {k} | {v.replace('|', '&#124;')} |", file=file)
        if self.groups:
            print(f"\nFailures by kind (inputs saved in {a.out}):\n", file=file)
            print("| kind | where | inputs | first |", file=file)
            print("|---|---|---:|---|", file=file)
            for (kind, signature), paths in sorted(self.groups.items(), key=lambda kv: -len(kv[1])):
                print(f"| {kind} | {signature.replace('|', '&#124;')} | {len(paths)} | {paths[0]} |", file=file)


def run_pool(args, corpus) -> Report:
    report = Report(args, corpus)
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    root_tmp = tempfile.mkdtemp(prefix="lockls-fuzz-work-")
    workers = [Worker(ctx, n, args, corpus, root_tmp) for n in range(args.jobs)]
    next_index, done = args.start, 0
    started = last_progress = time.monotonic()

    def replace(w: Worker, kill: bool) -> Worker:
        w.stop(kill=kill)
        nw = Worker(ctx, workers.index(w), args, corpus, root_tmp)
        workers[workers.index(w)] = nw
        return nw

    try:
        while done < args.count:
            for w in workers:
                if w.ready and w.job is None and next_index < args.start + args.count:
                    cli = args.cli_every > 0 and next_index % args.cli_every == 0
                    w.send(next_index, cli, args.timeout)
                    next_index += 1
            now = time.monotonic()
            busy = [w for w in workers if w.job is not None or not w.ready]
            timeout = max(0.0, min((w.deadline for w in busy if w.job is not None), default=now + 5) - now)
            for conn in wait([w.conn for w in busy], timeout=min(timeout, 5.0)):
                w = next(w for w in workers if w.conn is conn)
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    w.proc.join(5)
                    code = w.proc.exitcode
                    if w.job is not None:
                        index, cli = w.job
                        how = (f"signal {signal.Signals(-code).name}" if isinstance(code, int) and code < 0
                               else "no signal")
                        report.failure(index, "worker-died", f"exit code {code}",
                                       f"the worker process ended with exit code {code} ({how}) while checking "
                                       "this input", cli, time.monotonic() - w.sent)
                        done += 1
                    else:
                        raise RuntimeError(f"a fuzz worker could not start (exit code {code})")
                    replace(w, kill=True)
                    continue
                if kind == "ready":
                    w.ready = True
                    continue
                report.add(payload)
                done += 1
                w.job = None
                if payload["hang"]:
                    replace(w, kill=False)
            now = time.monotonic()
            for w in list(workers):
                if w.job is not None and now > w.deadline:
                    index, cli = w.job
                    report.failure(index, "hang", "killed: the worker did not come back",
                                   "the worker did not answer in time (a hang outside Python code?) and was "
                                   "killed", cli, now - w.sent)
                    done += 1
                    replace(w, kill=True)
            if now - last_progress >= args.progress:
                last_progress = now
                rate = done / (now - started)
                print(f"[{done:,}/{args.count:,}] {rate:.1f} inputs/s, {report.failed_inputs} failing inputs, "
                      f"{report.hangs} hangs, slowest {report.slowest[0]:.2f} s", file=sys.stderr, flush=True)
    finally:
        for w in workers:
            w.stop(kill=w.job is not None)
        shutil.rmtree(root_tmp, ignore_errors=True)
    report.wall = time.monotonic() - started
    return report


# -- one input in the foreground ---------------------------------------------------------------

def run_one(args, data: bytes, suffix: str, cli: bool) -> dict:
    sys.path.insert(0, args.server)
    with tempfile.TemporaryDirectory(prefix="lockls-fuzz-one-") as tmp:
        rec = Checker(args.timeout, tmp, args.max_rss, args.server).check(data, suffix, cli)
    return rec


def print_one(rec: dict) -> int:
    print(f"{rec['bytes']:,} bytes, analysed in {rec['seconds']:.3f} s: {rec['findings']} findings, "
          f"{rec['skipped']} skipped, {rec['partial']} partial; CLI runs: {rec['cli_runs']}")
    for kind, signature, detail in rec["failures"]:
        print(f"\n== {kind}: {signature}\n{detail.rstrip()}")
    print("\nno failure" if not rec["failures"] else f"\n{len(rec['failures'])} failure(s)")
    return 1 if rec["failures"] else 0


def minimize(args, data: bytes, suffix: str) -> Optional[bytes]:
    """Shrink `data` while it fails with the same kind of failure (lines, then bytes; ddmin-like);
    None if it does not fail."""
    rec = run_one(args, data, suffix, args.cli)
    want = {kind for kind, _, _ in rec["failures"]}
    if not want:
        return None

    def fails(candidate: bytes) -> bool:
        got = run_one(args, candidate, suffix, args.cli)
        return bool(want & {kind for kind, _, _ in got["failures"]})

    for unit in ("lines", "bytes"):
        parts = data.splitlines(keepends=True) if unit == "lines" else [bytes([b]) for b in data]
        n = 2
        while len(parts) >= 2 and (unit == "lines" or len(parts) <= 4000):
            size = max(1, len(parts) // n)
            shrunk = False
            for start in range(0, len(parts), size):
                candidate = parts[:start] + parts[start + size:]
                if candidate and fails(b"".join(candidate)):
                    parts, n, shrunk = candidate, max(n - 1, 2), True
                    print(f"  {unit}: {len(parts)} left", file=sys.stderr)
                    break
            if not shrunk:
                if size == 1:
                    break
                n = min(len(parts), n * 2)
        data = b"".join(parts)
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__[__doc__.index("Usage:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000, help="inputs to run (default 2000)")
    ap.add_argument("--start", type=int, default=0, help="index of the first input (default 0)")
    ap.add_argument("--seed", default="1", help="seed (default 1): same seed, same inputs")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--cli-every", type=int, default=50, metavar="K",
                    help="every K-th input also goes through the CLI in 4 formats (default 50; 0: never)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it is a hang (default 10)")
    ap.add_argument("--max-rss", type=float, default=2048.0, metavar="MB",
                    help="a worker's peak RSS above this is a failure (default 2048)")
    ap.add_argument("--out", default="/tmp/lockls-fuzz", help="where failing inputs go (default /tmp/lockls-fuzz)")
    ap.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines (default 30)")
    ap.add_argument("--server", default=SERVER, help="the lockls package's parent directory (default: server/)")
    ap.add_argument("--replay", type=int, metavar="INDEX", help="run input INDEX of --seed in the foreground")
    ap.add_argument("--save", metavar="FILE", help="with --replay: also write the input to FILE")
    ap.add_argument("--input", metavar="FILE", help="run FILE through every check in the foreground")
    ap.add_argument("--minimize", metavar="FILE", help="shrink FILE while it fails the same way; writes FILE.min")
    ap.add_argument("--cli", action="store_true", help="with --input, --replay or --minimize: the CLI checks too")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.count < 0:
        ap.error("--jobs must be >= 1 and --count >= 0")

    if args.input or args.minimize:
        path = args.input or args.minimize
        with open(path, "rb") as f:
            data = f.read()
        suffix = ".h" if path.endswith(".h") else ".c"
        if args.minimize:
            small = minimize(args, data, suffix)
            if small is None:
                print(f"{path} does not fail: nothing to minimize")
                return 0
            with open(path + ".min", "wb") as f:
                f.write(small)
            print(f"{len(data):,} -> {len(small):,} bytes: {path}.min")
            return print_one(run_one(args, small, suffix, args.cli))
        return print_one(run_one(args, data, suffix, args.cli))

    corpus = load_corpus()
    if args.replay is not None:
        data, suffix, steps = make_input(corpus, args.seed, args.replay)
        print(f"input {args.replay} of seed {args.seed!r}:\n" + "\n".join(f"  {s}" for s in steps))
        if args.save:
            with open(args.save, "wb") as f:
                f.write(data)
            print(f"written to {args.save}")
        cli = args.cli or (args.cli_every > 0 and args.replay % args.cli_every == 0)
        return print_one(run_one(args, data, suffix, cli))

    report = run_pool(args, corpus)
    report.print(report.wall)
    return 1 if report.failed_inputs else 0


if __name__ == "__main__":
    sys.exit(main())
