"""Property: whatever edits the editor sends, the server ends up reporting exactly what
`lockls --check` reports for the final text.

The hypothesis test drives the server's session in-process (documents, incremental
reparse, per-function reuse, diagnostics conversion) with many random edit
sequences; the end-to-end test replays a seeded random sequence against the real
`lockls` process."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings, strategies as st
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from lockls.report.related import related_locations
from lockls.engine.driver import analyze_source
from lockls.config import default_config
from lockls.lsp.session import Session

from lsp.fixtures import make_client_fixture
from lsp.helpers import Editor, _lsp_lines, reference, summary

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = sorted(p.read_text(encoding="utf-8") for p in FIXTURES.glob("*.c"))
SNIPPETS = ["", "\n", "}", "{", " ", "pthread_mutex_unlock(&c->lock);", "pthread_mutex_lock(&c->lock);\n",
            "return -1;", "if (x)\n", "x", "😀", "日本", "\f\n", "/*", "*/", "\r\n", "goto out;"]


def position(text: str, index: int, encoding: str) -> T.Position:
    lines = _lsp_lines(text[:index])
    last = lines[-1]
    unit = last.encode("utf-8") if encoding == "utf-8" else last.encode("utf-16-le")
    return T.Position(len(lines) - 1, len(unit) // (1 if encoding == "utf-8" else 2))


def normalise(items):
    return sorted(items)


def expected(text: str, name: str = "f.c"):
    """What `--check` reports for `text`."""
    result = analyze_source(text.encode(), name, default_config())
    return normalise((f.rule, f.span.start_byte, f.span.end_byte, f.text,
                      tuple((r.span.start_byte, r.message) for r in f.related)) for f in result.findings)


def reported(s: Session, uri: str, name: str):
    """What the session reports for the document now; related places declared outside
    the function are resolved against its text, as the server does."""
    final = s.analysis(uri)
    return normalise((f.rule, f.site.start_byte, f.site.end_byte, str(f.message),
                      tuple((r.span.start_byte, r.message)
                            for r in related_locations(f.related, name, final.source, default_config(),
                                                       outside=final.outside)))
                     for f in final.findings)


def edited(s: Session, uri: str, text: str, version: int, start: int, end: int, new: str, encoding: str) -> str:
    """Send the change of text[start:end] to `new` to the session; the new text."""
    rng = T.Range(position(text, start, encoding), position(text, end, encoding))
    s.change(uri, version, [T.TextDocumentContentChangePartial(range=rng, text=new)])
    return text[:start] + new + text[end:]


def random_edits(s: Session, uri: str, text: str, edits, encoding: str, analyse_every: int) -> str:
    """Send `edits` ((where in 0..1, length, new text) each), analysing every
    `analyse_every`th version as an editor asking for diagnostics would; the final text."""
    for version, (where, length, new) in enumerate(edits, 1):
        start = int(where * len(text))
        end = min(start + length, len(text))
        if text[start - 1:start + 1] == "\r\n" or text[end - 1:end + 1] == "\r\n":
            continue  # inside a line break: not addressable by an LSP position
        text = edited(s, uri, text, version, start, end, new, encoding)
        if version % analyse_every == 0:
            s.analysis(uri)
    return text


EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 12), st.sampled_from(SNIPPETS)), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SOURCES), EDITS, st.sampled_from(["utf-16", "utf-8"]))
# found by this test: `goto out;` for a line break in a broken `if ... else` makes tree-sitter's
# incremental reparse keep an ERROR a fresh parse does not have (see Document.reparse)
@example((FIXTURES / "assertions.c").read_text(encoding="utf-8"), [(0.42449520390001705, 1, "goto out;")], "utf-16")
def test_session_matches_check_after_random_edits(source, edits, encoding):
    uri = "file:///tmp/lockls-property/f.c"
    s = Session()
    s.encoding = encoding
    s.open(uri, source, 0, "c")
    s.analysis(uri)  # warm the per-function cache, as a real session would be
    text = random_edits(s, uri, source, edits, encoding, analyse_every=3)  # some intermediate versions too
    assert s.documents[uri].source == text.encode()
    assert reported(s, uri, "f.c") == expected(text)


# Large edits too: pasting or cutting hundreds of characters across lines (a chunk of
# another file), code left broken (unclosed braces and comments, stray `#if 0`), non-ASCII
# text, a lone CR (a line break for the editor and for --check alike), a NUL byte.
CHUNKS = st.one_of(
    st.sampled_from(SNIPPETS + ["\r", "{{{{", "}}", "#if 0\n", "#endif\n", "/* open", "é", "\u2028", "\x00",
                                "int g(void) {\n", "ÿ😀\r\n"]),
    st.tuples(st.sampled_from(SOURCES), st.floats(0, 1), st.integers(1, 600)).map(
        lambda t: t[0][int(t[1] * len(t[0])):][:t[2]]))
LARGE_EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 800), CHUNKS), min_size=1, max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SOURCES), LARGE_EDITS, st.sampled_from(["utf-16", "utf-8"]))
def test_session_matches_check_after_large_edits_of_broken_and_non_ascii_text(source, edits, encoding):
    uri = "file:///tmp/lockls-property/g.c"
    s = Session()
    s.encoding = encoding
    s.open(uri, source, 0, "c")
    s.analysis(uri)
    text = random_edits(s, uri, source, edits, encoding, analyse_every=2)
    assert s.documents[uri].raw == text.encode()
    assert reported(s, uri, "g.c") == expected(text, "g.c")


# A file whose functions' effects on their callers are read from their bodies (wrappers
# of wrappers), annotated the way clang-annotated projects are: an edit inside one body
# can change what every caller's calls mean, an edit between functions changes nothing.
WRAPPERS = """#include <pthread.h>
#define LK_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))
#define LK_GUARDED_BY(x) __attribute__((guarded_by(x)))
struct q { pthread_mutex_t mu; int n LK_GUARDED_BY(mu); };
int total LK_GUARDED_BY(big);
pthread_mutex_t big;

static void q_lock(struct q *q)
{
    pthread_mutex_lock(&q->mu);
}

static void q_unlock(struct q *q)
{
    pthread_mutex_unlock(&q->mu);
}

static void q_lock_twice(struct q *q)
{
    q_lock(q);
}

void q_bump(struct q *q) LK_REQUIRES(q->mu);

void q_bump(struct q *q)
{
    q->n++;
}

int q_use(struct q *q, int x)
{
    q_lock_twice(q);
    if (x)
        return -1;
    q_bump(q);
    q_unlock(q);
    total++;
    return 0;
}
"""
BODY_EDITS = ["", "\n", " ", "pthread_mutex_unlock(&q->mu);", "pthread_mutex_lock(&q->mu);", "q_unlock(q);",
              "q_lock(q);", "return;", "/* c */", "}", "{"]
BETWEEN_EDITS = ["\n", "/* note */\n", "// x\n", "static void q_lock(struct q *q);\n",
                 "void q_other(struct q *q) { q_lock(q); }\n", "int x LK_GUARDED_BY(big);\n"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1), st.integers(0, 30), st.integers(0, 10)),
                min_size=1, max_size=8))
def test_session_matches_check_after_edits_of_wrappers(edits):
    uri = "file:///tmp/lockls-property/w.c"
    s = Session()
    s.open(uri, WRAPPERS, 0, "c")
    s.analysis(uri)
    text = WRAPPERS
    for version, (between, where, length, pick) in enumerate(edits, 1):
        if between:  # at the start of a line outside any function
            starts = [i + 1 for i, ch in enumerate(text) if ch == "\n" and text[i + 1:i + 2] in ("\n", "s", "v", "i")]
            start = end = starts[int(where * (len(starts) - 1))] if starts else 0
            new = BETWEEN_EDITS[pick % len(BETWEEN_EDITS)]
        else:
            start = int(where * len(text))
            end = min(start + length % 12, len(text))
            new = BODY_EDITS[pick % len(BODY_EDITS)]
        text = edited(s, uri, text, version, start, end, new, "utf-16")
        s.analysis(uri)  # every version: the editor analyses as the user types
    assert reported(s, uri, "w.c") == expected(text, "w.c")


def test_a_keystroke_in_a_body_rereads_that_function_alone(monkeypatch):
    """The file's contracts are read whole once; an edit inside a body re-reads that
    function's summary; an edit between functions reads nothing; an edit that changes a
    wrapper's effect changes what its callers' calls mean, exactly as a fresh read does."""
    from lockls.engine import driver

    reads = []
    real = driver.file_contracts
    # the session's whole reads (with a trace); analyze_source below reads afresh, untraced
    monkeypatch.setattr(driver, "file_contracts",
                        lambda *a, **k: (k.get("trace") is not None and reads.append(1)) or real(*a, **k))
    uri = "file:///tmp/lockls-property/w.c"
    s = Session()
    s.open(uri, WRAPPERS, 0, "c")
    text = WRAPPERS

    def edit(version, old, new, occurrence=0):
        nonlocal text
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(old, start + 1)
        text = edited(s, uri, text, version, start, start + len(old), new, "utf-16")
        got = sorted((f.rule, f.site.start_byte, str(f.message)) for f in s.analysis(uri).findings)
        fresh = analyze_source(text.encode(), "w.c", default_config()).findings
        assert got == sorted((f.rule, f.span.start_byte, f.text) for f in fresh)
        return got

    first = sorted((f.rule, f.site.start_byte, str(f.message)) for f in s.analysis(uri).findings)
    # (`total` is annotated GUARDED_BY(big), and q_use requires nothing: reported everywhere)
    assert [r for r, *_ in first] == ["lock-leak", "unguarded-access"] and len(reads) == 1
    edit(1, "    q->n++;", "    q->n += 1;")  # inside a body: no whole read
    edit(2, "static void q_unlock", "\n/* unlocks */\nstatic void q_unlock")  # between functions
    assert len(reads) == 1
    # the unlock wrapper now takes the lock back before it drops it: its callers' calls change meaning
    changed = edit(3, "pthread_mutex_unlock(&q->mu);", "pthread_mutex_lock(&q->mu);\n    pthread_mutex_unlock(&q->mu);")
    assert len(reads) == 2  # its summary changed: the file is read whole again
    assert changed != first


client = make_client_fixture(clients=["visual_studio_code", "neovim"])


async def test_real_server_random_edits(client: LanguageClient, tmp_path):
    rnd = random.Random(4)
    ed = Editor(client, tmp_path / "r.c", SOURCES[0], client.encoding)
    await ed.open()
    for _ in range(25):
        start = rnd.randrange(len(ed.text))
        end = min(len(ed.text), start + rnd.randrange(8))
        if ed.text[start - 1:start + 1] == "\r\n" or ed.text[end - 1:end + 1] == "\r\n":
            continue
        diags = await ed.change(start, end, rnd.choice(SNIPPETS))
        assert summary(diags) == reference(ed)


def test_a_recovery_that_differs_inside_a_definition_is_parsed_again():
    """Found by bench/soak.py --sequences: after these edits tree-sitter's incremental
    reparse recovered a broken function with the same node counts as a fresh parse but a
    different shape, so the session missed an `unlock-unheld` that --check reports."""
    text = (FIXTURES / "assertions.c").read_text(encoding="utf-8")
    edits = [(781, 829, ""), (64, 64, "\n"), (64, 65, ""), (163, 164, ""), (163, 163, "g"), (164, 164, "o"),
             (1503, 1503, "日本"), (694, 697, "return -1;"), (1419, 1419, "\n    "), (1424, 1424, "s"),
             (1425, 1425, "w")]
    uri = "file:///tmp/lockls-property/seq3.c"
    s = Session()
    s.open(uri, text, 0, "c")
    s.analysis(uri)
    for version, (start, end, new) in enumerate(edits, 1):
        text = edited(s, uri, text, version, start, end, new, "utf-16")
    assert reported(s, uri, "seq3.c") == expected(text, "seq3.c")
    assert any(f[0] == "unlock-unheld" for f in expected(text, "seq3.c"))


def test_an_edit_in_a_body_that_swallows_the_rest_reads_the_file_again():
    """Found by bench/soak.py --sequences: deleting a function's closing brace makes its
    body swallow the functions after it; edits there were taken for edits inside one body,
    whose shortcut keeps what the file says outside bodies (here: that `table_abort` never
    returns, which the swallowed text no longer says), and the session missed a leak."""
    text = (FIXTURES / "noreturn.c").read_text(encoding="utf-8")
    brace = text.index("}\n", text.index("static void table_abort(int status)"))
    uri = "file:///tmp/lockls-property/noreturn.c"
    s = Session()
    s.open(uri, text, 0, "c")
    s.analysis(uri)
    for version, (start, end, new) in enumerate([(brace, brace + 1, ""), (brace, brace, "t")], 1):
        text = edited(s, uri, text, version, start, end, new, "utf-16")
        assert reported(s, uri, "noreturn.c") == expected(text, "noreturn.c")
    assert any(f[0] == "lock-leak" for f in expected(text, "noreturn.c"))
