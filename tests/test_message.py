"""Messages are data: line references move with their function and never come from text."""

from __future__ import annotations

import pytest

from lockls.engine.driver import analyze_source
from lockls.config import default_config
from lockls.ir.message import LineRef, Message


def test_parts_join_and_render():
    m = Message.of("`m` taken at ", LineRef(3), None, "", " is still held", Message.of(" when `x` at ", LineRef(5)))
    assert m.parts == ("`m` taken at ", LineRef(3), " is still held when `x` at ", LineRef(5))
    assert str(m) == "`m` taken at line 3 is still held when `x` at line 5"
    assert m.lines() == (3, 5)
    assert m.blanked() == "`m` taken at  is still held when `x` at "


def test_shift_moves_references_only():
    # a lock spelled `line 4` in code stays as written: only references move
    m = Message.of("`line 4` taken at ", LineRef(4))
    assert str(m.shifted(2)) == "`line 4` taken at line 6"
    assert m.shifted(0) is m


def test_codec_round_trip_and_rejects_anything_else():
    m = Message.of("taken at ", LineRef(7), ")")
    assert Message.decode(m.encode()) == m
    for bad in ([{"line": "7"}], [{"line": 7, "x": 1}], [3], {"line": 7}, [{"line": True}]):
        with pytest.raises(TypeError):
            Message.decode(bad)


def test_rule_messages_carry_references():
    source = b"""#include <pthread.h>
pthread_mutex_t m;
int f(int x)
{
    pthread_mutex_lock(&m);
    if (x)
        return -1;
    pthread_mutex_unlock(&m);
    return 0;
}
"""
    (finding,) = analyze_source(source, "f.c", default_config()).findings
    assert finding.message.lines() == (5,)
    assert finding.text == "`&m` taken at line 5 is still held at this return (held: &m)"
