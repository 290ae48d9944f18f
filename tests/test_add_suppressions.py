"""`--add-suppressions`: a suppression comment for every finding (lockls.cli.suppressions)."""

from __future__ import annotations

import pytest

from cli_support import enter_project, run
from lockls.cli.suppressions import edits_for
from lockls.config import clear_config_cache

HEAD = "#include <pthread.h>\nstruct q { pthread_mutex_t lock; int n; };\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    yield enter_project(tmp_path, monkeypatch)
    clear_config_cache()



BEFORE = HEAD + """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock); pthread_mutex_lock(&q->lock); // lockls: ignore[lock-order]
    pthread_mutex_unlock(&q->lock); // why
    pthread_mutex_unlock(&q->lock); /* a comment
                                      that goes on */
    pthread_mutex_unlock(&q->lock);
}
"""
AFTER = HEAD + """int leak(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->n)
        return -1; /* lockls: ignore[lock-leak] */
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void twice(struct q *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&q->lock); pthread_mutex_lock(&q->lock); // lockls: ignore[lock-order, double-lock]
    pthread_mutex_unlock(&q->lock); // why
    // lockls: ignore-next-line[unlock-unheld]
    pthread_mutex_unlock(&q->lock); /* a comment
                                      that goes on */
    pthread_mutex_unlock(&q->lock); /* lockls: ignore[unlock-unheld] */
}
"""


def test_every_finding_gets_a_comment_and_the_next_run_is_clean(project, capsys):
    (project / "a.c").write_text(BEFORE)
    status, out, err = run(capsys, "--check")
    assert status == 1 and out.count("\n") == 5
    status, out, err = run(capsys, "--check", "--add-suppressions")
    assert (status, out, err) == (0, "", "lockls: 3 suppression comments added, 1 extended in 1 file\n")
    assert (project / "a.c").read_text() == AFTER
    status, out, err = run(capsys, "--check")
    assert (status, out) == (0, "")
    status, out, err = run(capsys, "--check", "--add-suppressions")
    assert (status, err) == (0, "lockls: 0 suppression comments added in 0 files\n")
    assert (project / "a.c").read_text() == AFTER


def test_bytes_are_kept(project, capsys):
    text = (HEAD + "/* caf\xe9 */\r\nvoid f(struct q *q)\r\n{\r\n    pthread_mutex_lock(&q->lock);   \r\n}\r\n")
    (project / "a.c").write_bytes(text.encode("latin-1"))
    assert run(capsys, "--check", "--add-suppressions")[0] == 0
    assert (project / "a.c").read_bytes() == text.replace(
        "}\r\n", "} /* lockls: ignore[lock-leak] */\r\n").encode("latin-1")
    assert run(capsys, "--check")[:2] == (0, "")


@pytest.mark.parametrize("lines,rules,expected", [
    # after the code; before a `//` comment that ends the line
    (["x();", "y(); // note"], {0: {"b", "a"}, 1: {"a"}},
     ["x(); /* lockls: ignore[a, b] */", "y(); /* lockls: ignore[a] */ // note"]),
    # the line's own suppression grows; `ignore-next-line` comments above too
    (["x(); /* lockls: ignore[a] */", "// lockls: ignore-next-line[a]", "y(\\", "  );"], {0: {"b"}, 2: {"b"}},
     ["x(); /* lockls: ignore[a, b] */", "// lockls: ignore-next-line[a, b]", "y(\\", "  );"]),
    # the line is continued: above it, with the continuation kept when the line above is continued too
    (["  y(\\", "  z(\\", "  );"], {0: {"a"}, 1: {"b"}},
     ["  // lockls: ignore-next-line[a]", "  y(\\", "  /* lockls: ignore-next-line[b] */ \\", "  z(\\", "  );"]),
    # a `/*` in a string is no comment; one that does not end on the line is
    (['s = "/*"; x();', "x(); /* a", "b */"], {0: {"a"}, 1: {"a"}},
     ['s = "/*"; x(); /* lockls: ignore[a] */', "// lockls: ignore-next-line[a]", "x(); /* a", "b */"]),
])
def test_where_the_comment_goes(lines, rules, expected):
    data = "\n".join(lines).encode() + b"\n"
    edits, _, _ = edits_for(data, rules)
    for a, b, new in sorted(edits, reverse=True):
        data = data[:a] + new + data[b:]
    assert data.decode().split("\n")[:-1] == expected
