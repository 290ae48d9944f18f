"""The server's features without the transport: documents, fixes, hover, highlight,
per-function reuse (lockls.lsp.session.Session, lockls.lsp.documents, lockls.engine.driver)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from lsprotocol import types as T

from lockls.engine.driver import analyze_source
from lockls.config import default_config
from lockls.lsp.documents import Document, LineIndex
from lockls.lsp.session import Session
from lockls.syntax.nodes import lsp_line_breaks

URI = "file:///tmp/lockls-test/f.c"


def session_with(text: str, encoding: str = "utf-16") -> Session:
    s = Session()
    s.encoding = encoding
    s.open(URI, text, 1, "c")
    return s


def apply_edits(doc: Document, edits, encoding) -> str:
    data = doc.source
    spans = sorted(((doc.offset_at(e.range.start.line, e.range.start.character, encoding),
                     doc.offset_at(e.range.end.line, e.range.end.character, encoding), e.new_text) for e in edits),
                   reverse=True)
    for a, b, text in spans:
        data = data[:a] + text.encode() + data[b:]
    return data.decode()


def rules_of(text: str) -> list[str]:
    return sorted(f.rule for f in analyze_source(text.encode(), "f.c", default_config()).findings)


def actions_for(text: str, rule: str):
    s = session_with(text)
    result = s.analysis(URI)
    (finding,) = [f for f in result.findings if f.rule == rule]
    doc = s.documents[URI]
    rng = s.lsp_range(doc, finding.site.start_byte, finding.site.end_byte)
    return s, doc, s.code_actions(URI, rng)


HEAD = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; int n; };\n"

LEAK_BRACED = HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n) {
        return;
    }
    pthread_mutex_unlock(&q->lock);
}
"""
LEAK_BRACELESS = HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return;
    pthread_mutex_unlock(&q->lock);
}
"""
LEAK_SAME_LINE = HEAD + """void f(struct q *q)
{
\tpthread_rwlock_wrlock(&q->rw);
\tif (q->n) return;
\tpthread_rwlock_unlock(&q->rw);
\treturn 0;
}
"""
LEAK_FALLTHROUGH = HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    q->n++;
}
"""
LEAK_GOTO = HEAD + """int f(struct q *q)
{
    int rc = -1;
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return rc;
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}
"""
DOUBLE = HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
}
"""
UNHELD = HEAD + """void f(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock); q->n = 0; pthread_mutex_unlock(&q->lock);
}
"""


@pytest.mark.parametrize("text", [LEAK_BRACED, LEAK_BRACELESS, LEAK_SAME_LINE, LEAK_FALLTHROUGH, LEAK_GOTO])
def test_leak_release_fix(text):
    s, doc, actions = actions_for(text, "lock-leak")
    release = [a for a in actions if a.title.startswith("Release")]
    assert release and release[0].is_preferred
    fixed = apply_edits(doc, release[0].edit.changes[URI], "utf-16")
    assert "lock-leak" not in rules_of(fixed), fixed
    assert rules_of(fixed) == []


def test_leak_fix_keeps_indentation_and_braces():
    _, doc, actions = actions_for(LEAK_BRACELESS, "lock-leak")
    fixed = apply_edits(doc, actions[0].edit.changes[URI], "utf-16")
    assert "    if (q->n) {\n        pthread_mutex_unlock(&q->lock);\n        return;\n    }\n" in fixed
    _, doc, actions = actions_for(LEAK_BRACED, "lock-leak")
    fixed = apply_edits(doc, actions[0].edit.changes[URI], "utf-16")
    assert "    if (q->n) {\n        pthread_mutex_unlock(&q->lock);\n        return;\n    }\n" in fixed
    _, doc, actions = actions_for(LEAK_SAME_LINE, "lock-leak")
    fixed = apply_edits(doc, actions[0].edit.changes[URI], "utf-16")
    assert "\tif (q->n) {\n\t\tpthread_rwlock_unlock(&q->rw);\n\t\treturn;\n\t}\n" in fixed


def test_leak_goto_fix():
    _, doc, actions = actions_for(LEAK_GOTO, "lock-leak")
    (goto,) = [a for a in actions if a.title.startswith("Jump to `out`")]
    fixed = apply_edits(doc, goto.edit.changes[URI], "utf-16")
    assert "        goto out;\n" in fixed
    assert rules_of(fixed) == []


@pytest.mark.parametrize("text,rule", [(DOUBLE, "double-lock"), (UNHELD, "unlock-unheld")])
def test_remove_call_fix(text, rule):
    _, doc, actions = actions_for(text, rule)
    (remove,) = [a for a in actions if a.title.startswith("Remove")]
    fixed = apply_edits(doc, remove.edit.changes[URI], "utf-16")
    assert rule not in rules_of(fixed)
    assert fixed.count("\n") == text.count("\n") - (1 if rule == "double-lock" else 0)


@pytest.mark.parametrize("text,rule", [(LEAK_BRACELESS, "lock-leak"), (LEAK_FALLTHROUGH, "lock-leak"),
                                       (DOUBLE, "double-lock"), (UNHELD, "unlock-unheld")])
def test_suppress_fix(text, rule):
    _, doc, actions = actions_for(text, rule)
    (sup,) = [a for a in actions if a.title.startswith("Suppress")]
    fixed = apply_edits(doc, sup.edit.changes[URI], "utf-16")
    assert f"/* lockls: ignore[{rule}] */\n" in fixed
    assert rule not in rules_of(fixed)


# -- hover ---------------------------------------------------------------------------

HOVER = HEAD + """int f(struct q *q, struct q *o, int x)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    if (x)
        pthread_mutex_lock(&o->lock);
    rc = x + 1;
    if (x)
        pthread_mutex_unlock(&o->lock);
    pthread_mutex_unlock(&q->lock); /* lockls: ignore[unlock-unheld] */
    return rc;
}
"""


def hover_at(s: Session, text: str, needle: str, delta: int = 0):
    index = text.index(needle) + delta
    doc = s.documents[URI]
    line, char = doc.position_of(len(text[:index].encode()), s.encoding)
    h = s.hover(URI, line, char)
    return h.contents.value if h else None


def test_hover_held_locks():
    s = session_with(HOVER)
    assert hover_at(s, HOVER, "int rc") == "**Locks held here:** none"
    assert hover_at(s, HOVER, "rc = x + 1") == (
        "**Locks held here**\n- for sure: `&q->lock` (taken at line 6)\n- on some paths: `&o->lock` (taken at line 8)")
    assert hover_at(s, HOVER, "return rc") == "**Locks held here:** none"
    assert hover_at(s, HOVER, "int f") is None
    assert hover_at(s, HOVER, "#include") is None
    assert s.hover(URI, 999, 0) is None and s.hover("file:///nope.c", 0, 0) is None
    assert "for sure" in s.hover(URI, 9, 999).contents.value  # clamped to the line's end


SUMMARY = HEAD + """void q_release(struct q *q)
{
    q->n = 0;
    pthread_mutex_unlock(&q->lock);
}

void q_put(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    q_release(q);
}
"""


def test_hover_on_a_summarised_function():
    s = session_with(SUMMARY)
    expected = "**q_release**: release arg0->lock\n\ninferred from its body"
    assert hover_at(s, SUMMARY, "q_release(q);", 2) == expected  # at a call
    assert hover_at(s, SUMMARY, "void q_release", 7) == expected  # on its definition's name
    assert hover_at(s, SUMMARY, "q_put", 1) == (  # balanced, but calling it with the lock held deadlocks
        "**q_put**: takes and drops arg0->lock itself (calling it with that held is a self-deadlock)\n\n"
        "inferred from its body")
    assert hover_at(s, SUMMARY, "void q_put", 1) is None  # not on the return type


def test_hover_lock_call_and_suppression():
    s = session_with(HOVER)
    text = hover_at(s, HOVER, "pthread_mutex_lock(&o->lock)", 3)
    assert "**`&o->lock`** — `pthread_mutex_lock` acquires it" in text
    assert "- kind: `pthread_mutex`" in text
    assert "acquire `pthread_mutex_lock` at line 8 (this call)" in text
    assert "release `pthread_mutex_unlock` at line 11" in text
    doc = hover_at(s, HOVER, "lockls: ignore")
    assert doc.startswith("**unlock-unheld**") and "unlock-unheld:" in doc


def test_highlight():
    s = session_with(HOVER)
    doc = s.documents[URI]
    line, char = doc.position_of(HOVER.index("pthread_mutex_unlock(&q->lock)") + 2)
    hs = s.highlights(URI, line, char)
    assert [(h.range.start.line, h.kind) for h in hs] == [
        (5, T.DocumentHighlightKind.Read), (11, T.DocumentHighlightKind.Write)]
    assert s.highlights(URI, 2, 0) is None


# -- documents -------------------------------------------------------------------------

def test_positions_non_ascii_and_form_feed():
    text = "/* 日本 😀 */ int x;\f\n\fint y; /* é */\r\nz\rw"
    doc = Document("u", text, 1)
    data = text.encode()
    assert doc.lines.starts == [0, data.index(b"\f\n") + 2, data.index(b"\r\n") + 2, data.index(b"\rw") + 1]
    x = data.index(b"int x")
    assert doc.position_of(x, "utf-16") == (0, len("/* 日本 😀 */ ".encode("utf-16-le")) // 2)
    assert doc.position_of(x, "utf-8") == (0, x)
    for enc in ("utf-8", "utf-16"):
        for off in range(len(data) + 1):
            if off < len(data) and (data[off] & 0xC0) == 0x80:
                continue
            assert doc.offset_at(*doc.position_of(off, enc), enc) == off or data[off - 1:off] == b"\r"


EDIT = st.tuples(st.integers(0, 200), st.integers(0, 6),
                 st.sampled_from(["", "\n", "\r\n", "\r", "\f", "x", "日", "😀", "a\nb", "\r\n\n"]))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n\r\f日😀 ", max_size=40), st.lists(EDIT, max_size=6))
def test_line_index_incremental_equals_full(text, edits):
    doc = Document("u", text, 1)
    for at, length, new in edits:
        size = len(doc.source)
        # edit whole characters only
        chars = doc.raw.decode()
        a = min(at, len(chars))
        b = min(a + length, len(chars))
        start, end = len(chars[:a].encode()), len(chars[:b].encode())
        (sl, sc), (el, ec) = doc.position_of(start, "utf-16"), doc.position_of(end, "utf-16")
        if doc.offset_at(sl, sc, "utf-16") != start or doc.offset_at(el, ec, "utf-16") != end:
            continue  # inside a \r\n pair: not addressable by a position
        doc.apply_change(new, ((sl, sc), (el, ec)), "utf-16")
        assert doc.raw == (chars[:a] + new + chars[b:]).encode()
        assert doc.source == lsp_line_breaks(doc.raw)  # what is parsed: lone CRs made LFs
        assert doc.lines.starts == LineIndex(doc.source).starts == LineIndex(doc.raw).starts


def test_only_the_edited_function_is_reanalysed():
    fns = "".join(HEAD if i == 0 else "" for i in range(1)) + "".join(
        f"void f{i}(struct q *q)\n{{\n    pthread_mutex_lock(&q->lock);\n    if (q->n == {i}) return;\n"
        f"    pthread_mutex_unlock(&q->lock);\n}}\n" for i in range(20))
    s = session_with(fns)
    first = s.analysis(URI)
    assert len(first.findings) == 20 and s.cache.misses == 20
    doc = s.documents[URI]
    line, _ = doc.position_of(fns.index("if (q->n == 7) return"))
    # insert a line inside f7: only f7 is analysed again, the rest move
    s.change(URI, 2, [T.TextDocumentContentChangePartial(range=T.Range(T.Position(line, 0), T.Position(line, 0)), text="    q->n++;\n")])
    second = s.analysis(URI)
    assert s.cache.misses == 21
    expected = analyze_source(doc.source, "f.c", default_config()).findings
    assert [(f.rule, f.site.start_byte, str(f.message)) for f in second.findings] == [
        (f.rule, f.span.start_byte, f.text) for f in expected]


def test_error_in_one_function_is_logged_once_and_skipped(monkeypatch, caplog):
    from lockls.engine import driver as engine

    real = engine.analyze_function

    def flaky(fn, body, source, config, rec):
        if b"f3" in source[fn.start_byte:body.start_byte]:
            raise RuntimeError("boom")
        return real(fn, body, source, config, rec)

    monkeypatch.setattr(engine, "analyze_function", flaky)
    fns = HEAD + "".join(
        f"void f{i}(struct q *q)\n{{\n    pthread_mutex_lock(&q->lock);\n    if (q->n == {i}) return;\n"
        f"    pthread_mutex_unlock(&q->lock);\n}}\n" for i in range(5))
    s = session_with(fns)
    result = s.analysis(URI)
    assert [f.slot.name for f in result.findings] == ["f0", "f1", "f2", "f4"]
    assert any("f3" in x and "internal error" in x for x in result.skipped)
    # edit f3 again: still skipped, still reported once in the log
    doc = s.documents[URI]
    line, _ = doc.position_of(fns.index("if (q->n == 3)"))
    for version in (2, 3):
        s.change(URI, version, [T.TextDocumentContentChangePartial(range=T.Range(T.Position(line, 0), T.Position(line, 0)), text=" ")])
        assert [f.slot.name for f in s.analysis(URI).findings] == ["f0", "f1", "f2", "f4"]
    assert sum("internal error analysing" in r.getMessage() for r in caplog.records) == 1
    h = s.hover(URI, line, 6)
    assert "could not analyse" in h.contents.value


GUARDED_FIELD = """#define GUARDED_BY(x) __attribute__((guarded_by(x)))
struct acct {
    pthread_mutex_t mu;
    long balance GUARDED_BY(mu);
};
long peek(struct acct *a)
{
    pthread_mutex_lock(&a->mu);
    pthread_mutex_unlock(&a->mu);
    return a->balance;
}
"""


def test_related_information_points_at_the_guard_declaration():
    s = session_with(GUARDED_FIELD)
    _, diagnostics = s.diagnostics(URI)
    (d,) = diagnostics
    assert (d.code, d.range.start.line, d.range.start.character) == ("unguarded-access", 9, 11)
    assert [(r.location.uri, r.location.range.start.line, r.location.range.start.character, r.message)
            for r in d.related_information] == [
        (URI, 8, 4, "`a->mu` released or not taken here"),
        (URI, 3, 9, "`balance` is declared guarded here"),
    ]
    # lines added above the struct: the cached result of `peek` is reused, and the
    # declaration is found where it now is
    s.change(URI, 2, [T.TextDocumentContentChangePartial(
        range=T.Range(T.Position(1, 0), T.Position(1, 0)), text="/* one */\n/* two */\n")])
    _, diagnostics = s.diagnostics(URI)
    (d,) = diagnostics
    assert [(r.range.start.line if hasattr(r, "range") else r.location.range.start.line)
            for r in d.related_information] == [10, 5]


def test_related_information_points_at_the_config_file(tmp_path):
    (tmp_path / ".lockls.toml").write_text('# counters\n\n[[guarded]]\nvariable = "hits"\nby = "hits_mu"\n'
                                           'everywhere = true\n')
    path = tmp_path / "c.c"
    text = "int hits;\nint get(void)\n{\n    return hits;\n}\n"
    path.write_text(text)
    s = Session()
    uri = path.as_uri()
    s.open(uri, text, 1, "c")
    _, diagnostics = s.diagnostics(uri)
    (d,) = diagnostics
    assert d.code == "unguarded-access"
    assert [(r.location.uri, r.location.range.start.line, r.message) for r in d.related_information] == [
        ((tmp_path / ".lockls.toml").as_uri(), 3, "`hits` is declared guarded here")]


RCU_LEAK = """int reader(int *p)
{
    rcu_read_lock();
    if (!p)
        return -1;
    rcu_read_unlock();
    return *p;
}
"""

WRAPPER_LEAK = """struct q { pthread_mutex_t lock; int n; };
static void q_lock(struct q *q) { pthread_mutex_lock(&q->lock); }
static void q_unlock(struct q *q) { pthread_mutex_unlock(&q->lock); }
int pop(struct q *q)
{
    q_lock(q);
    if (!q->n)
        return -1;
    q->n--;
    q_unlock(q);
    return 0;
}
"""


@pytest.mark.parametrize("text, title, inserted", [
    (RCU_LEAK, "Release `RCU` with `rcu_read_unlock` before this return", "rcu_read_unlock();"),
    (WRAPPER_LEAK, "Release `q->lock` with `q_unlock` before this return", "q_unlock(q);"),
])
def test_leak_fix_for_named_contexts_and_wrappers(text, title, inserted):
    s, doc, actions = actions_for(text, "lock-leak")
    (fix,) = [a for a in actions if a.title == title]
    fixed = apply_edits(doc, fix.edit.changes[URI], "utf-16")
    assert inserted in fixed
    assert rules_of(fixed) == []


def test_hover_on_guarded_data_shows_its_guard():
    s = session_with(GUARDED_FIELD)
    hover = s.hover(URI, 9, 15)  # on `a->balance` in `return a->balance;`
    assert "`a->balance` is guarded by `a->mu` (declared at line 4)" in hover.contents.value
    assert "**Locks held here:** none" in hover.contents.value


def test_hover_in_an_entry_point(tmp_path):
    (tmp_path / ".lockls.toml").write_text('[entry-points]\nfunctions = ["*_ioctl"]\n')
    path = tmp_path / "d.c"
    text = "int dev_ioctl(struct dev *d)\n{\n    pthread_mutex_lock(&d->lock);\n    pthread_mutex_unlock(&d->lock);\n    return 0;\n}\n"
    path.write_text(text)
    s = Session()
    s.open(path.as_uri(), text, 1, "c")
    hover = s.hover(path.as_uri(), 3, 4)
    assert "`dev_ioctl` is an entry point: it starts with no lock held." in hover.contents.value


def test_hover_on_a_lock_call_shows_its_class(tmp_path):
    (tmp_path / ".lockls.toml").write_text('lock-order = ["driver", "domain"]\n[classes.driver]\n'
                                           'types = ["struct driver"]\n[classes.domain]\nmatch = ["*->dom_lock"]\n')
    path = tmp_path / "d.c"
    text = ("void f(struct driver *drv, struct dom *d)\n{\n    pthread_mutex_lock(&drv->lock);\n"
            "    pthread_mutex_lock(&d->dom_lock);\n    pthread_mutex_unlock(&d->dom_lock);\n"
            "    pthread_mutex_unlock(&drv->lock);\n}\n")
    path.write_text(text)
    s = Session()
    s.open(path.as_uri(), text, 1, "c")
    assert "- class: `driver`" in s.hover(path.as_uri(), 2, 8).contents.value
    assert "- class: `domain`" in s.hover(path.as_uri(), 4, 8).contents.value  # an unlock: the acquire's class


IRQSAVE_LEAK = """int f(struct d *d)
{
    unsigned long flags;
    spin_lock_irqsave(&d->lock, flags);
    if (d->n)
        return -1;
    spin_unlock_irqrestore(&d->lock, flags);
    return 0;
}
"""

SRCU_LEAK = """int g(struct d *d)
{
    int idx = srcu_read_lock(&d->srcu);
    if (d->n)
        return -1;
    srcu_read_unlock(&d->srcu, idx);
    return 0;
}
"""


@pytest.mark.parametrize("text, title, inserted", [
    (IRQSAVE_LEAK, "Release `&d->lock` with `spin_unlock_irqrestore` before this return",
     "spin_unlock_irqrestore(&d->lock, flags);"),
    (SRCU_LEAK, "Release `&d->srcu` with `srcu_read_unlock` before this return", "srcu_read_unlock(&d->srcu, idx);"),
])
def test_leak_fix_passes_what_the_release_needs(text, title, inserted):
    """The saved flags of an irqsave and the token of an SRCU read lock go to the release."""
    s, doc, actions = actions_for(text, "lock-leak")
    (fix,) = [a for a in actions if a.title == title]
    fixed = apply_edits(doc, fix.edit.changes[URI], "utf-16")
    assert inserted in fixed
    assert rules_of(fixed) == []


def test_index_workspace_setting(tmp_path):
    """indexWorkspace: false at start-up: no background index (each file alone)."""
    s = Session()
    s.apply_settings({"lockls": {"indexWorkspace": False}})
    s.start_index([str(tmp_path)], lambda: None)
    assert s.index is None
    s = Session()
    s.apply_settings({"indexWorkspace": True})
    s.start_index([str(tmp_path)], lambda: None)
    try:
        assert s.index is not None
    finally:
        s.index.stop()


def test_a_reused_skip_reason_names_the_line_of_the_current_text():
    """A skipped function's result is reused while its text is the same; the line in its
    reason stayed that of the text it was first read in (found by bench/soak.py --parity)."""
    fn = ("int traced(struct queue *q)\n{\n    pthread_mutex_lock(&q->lock);\n    TRACE(q)\n    if (q->len == 0)\n"
          "        return -1;\n    pthread_mutex_unlock(&q->lock);\n    return 0;\n}\n")
    text = "#include <pthread.h>\n\n" + fn
    s = Session()
    s.open(URI, text, 1, "c")
    assert s.analysis(URI).file_result().skipped == ["traced (line 3): unparsable code with a jump at line 6"]
    end = text.count("\n")
    s.change(URI, 2, [T.TextDocumentContentChangePartial(range=T.Range(T.Position(end, 0), T.Position(end, 0)),
                                                         text="\n" + fn)])
    expected = ["traced (line 3): unparsable code with a jump at line 6",
                "traced (line 13): unparsable code with a jump at line 16"]
    assert s.analysis(URI).file_result().skipped == expected
    assert analyze_source((text + "\n" + fn).encode(), "f.c", default_config()).skipped == expected


def test_a_kept_result_follows_its_partner_elsewhere_in_the_file():
    """Whether `q_lock` may return holding its lock depends on a `q_unlock` elsewhere in the
    file: its kept result was reused after the partner's call was deleted, in the editor and
    between files of one --check worker (found by bench/soak.py --sequences)."""
    from lockls.engine.driver import Engine

    lock = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; int n; };\n" \
           "void q_lock(struct q *q)\n{\n    pthread_mutex_lock(&q->lock);\n}\n"
    with_partner = lock + "void bump(struct q *q)\n{\n    q_lock(q);\n    q->n++;\n    q_unlock(q);\n}\n"
    without = lock + "void bump(struct q *q)\n{\n    q_lock(q);\n    q->n++;\n}\n"

    def rules(text):
        return sorted((f.rule, f.span.start.line) for f in analyze_source(text.encode(), "q.c", default_config()).findings)

    assert rules(with_partner) == []
    assert rules(without) == [("lock-leak", 5)]  # at the end of q_lock: nothing says it returns holding it
    engine = Engine()
    for text in (with_partner, without):
        result = engine.analyze("q.c", text.encode(), default_config()).file_result()
        assert sorted((f.rule, f.span.start.line) for f in result.findings) == rules(text)
    s = Session()
    s.open(URI, with_partner, 1, "c")
    assert s.analysis(URI).findings == []
    line = with_partner.count("\n", 0, with_partner.index("    q_unlock(q);"))
    s.change(URI, 2, [T.TextDocumentContentChangePartial(range=T.Range(T.Position(line, 0), T.Position(line + 1, 0)),
                                                         text="")])
    assert sorted((f.rule, f.site.start[0]) for f in s.analysis(URI).findings) == rules(without)


def test_an_edited_annotation_in_the_open_file_wins_over_the_index(tmp_path):
    """The background index read the file from disk, with `gate_leave` annotated as a
    release; the user breaks the annotation in the editor: the open text decides, as
    `--check` on that text does (the index's older version of the file said a release)."""
    text = ("struct __attribute__((capability(\"mutex\"))) gate { int n; };\n"
            "void gate_enter(struct gate *g) __attribute__((acquire_capability(g)));\n"
            "void gate_leave(struct gate *g) __attribute__((release_capability(g)));\n"
            "struct gate door;\n"
            "void pass(void)\n{\n    gate_enter(&door);\n    gate_leave(&door);\n}\n")
    path = tmp_path / "gate.c"
    path.write_text(text)
    uri = path.as_uri()
    s = Session()
    s.start_index([str(tmp_path)], lambda: None)
    try:
        assert s.index.wait_ready(30)
        s.open(uri, text, 1, "c")
        assert [f.rule for f in s.analysis(uri).findings] == []
        broken = text.replace("release_capability(g)", "release_}apability(g)")
        s.change(uri, 2, [T.TextDocumentContentChangeWholeDocument(text=broken)])
        expected = [(f.rule, f.span.start_byte) for f in analyze_source(broken.encode(), "gate.c", default_config()).findings]
        assert expected == [("lock-leak", broken.index("}\n", broken.index("gate_leave(&door)")))]
        assert [(f.rule, f.site.start_byte) for f in s.analysis(uri).findings] == expected
    finally:
        s.index.stop()
