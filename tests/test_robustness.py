"""No input, however broken, crashes the analysis or `--check`.

Truncations and byte mutations of the real fixtures (unbalanced braces, ERROR
and MISSING nodes everywhere, invalid UTF-8) must give a FileResult: findings
for what is analysable, skipped functions for the rest, and never an internal
error. Functions before the damage keep their findings.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from lockls.analysis import analyze_source
from lockls.cli import main
from lockls.config import default_config

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.c"))
SOURCES = [p.read_bytes() for p in FIXTURES]
CONFIG = default_config()


def _check(source: bytes):
    result = analyze_source(source, "broken.c", CONFIG)
    assert result.error is None
    assert not any("internal error" in s for s in result.skipped), result.skipped
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SOURCES))), st.floats(0, 1))
def test_truncated_files_never_crash(index, fraction):
    source = SOURCES[index]
    cut = int(len(source) * fraction)
    _check(source[:cut])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SOURCES))),
       st.lists(st.tuples(st.floats(0, 1), st.sampled_from([b"{", b"}", b"(", b")", b";", b"#if X\n", b"\xff\xfe",
                                                             b"goto ", b"return", b"/*", b"\"", b"\x00", b":"])),
                min_size=1, max_size=6))
def test_mutated_files_never_crash(index, edits):
    source = bytearray(SOURCES[index])
    for where, text in edits:
        pos = int(len(source) * where)
        source[pos:pos] = text
    _check(bytes(source))


def test_functions_before_the_damage_keep_their_findings():
    source = (Path(__file__).parent / "fixtures" / "basics.c").read_bytes()
    whole = _check(source)
    # cut in the middle of the last function: an unclosed brace, as while typing
    cut = source.rindex(b"pthread_mutex_unlock(&q->lock);")
    damaged = _check(source[:cut])
    before = [f for f in whole.findings if f.span.start_byte < source.rindex(b"/* clean: the same lock spelled differently")]
    assert [(f.rule, f.span.start.line) for f in damaged.findings] == [(f.rule, f.span.start.line) for f in before]
    assert any("queue_spellings" in s for s in damaged.skipped)


def test_check_on_garbage_files(tmp_path, capsys):
    (tmp_path / "binary.c").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "empty.c").write_bytes(b"")
    (tmp_path / "braces.h").write_bytes(b"}}}{{{ int f( { pthread_mutex_lock(&m); ")
    status = main(["--check", "--no-cache", "--jobs", "1", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Traceback" not in captured.err
