"""How lockls scales on the shapes that once made it slow, deep or huge.

    python bench/scaling.py                  # every shape at the issue's sizes (a few minutes)
    python bench/scaling.py --quick          # the smaller size of each (smoke run)
    python bench/scaling.py --shape switch --shape ladder --timeout 60

Each shape is generated at two or more sizes and analysed in a child process of
its own (`lockls.engine.driver.analyze_source`, default configuration), which
reports its wall time, its peak memory (maximum resident set size) and what
became of the function (analysed, analysed in part, skipped and why). A child
that runs past `--timeout` is killed and reported as such, so one bad shape
cannot stop the table. The output is a Markdown table for `bench/README.md`.

The shapes are the stress inputs of issue 12 (hostile input): long runs of early
returns, gotos and switch cases under a held lock, cleanup ladders of distinct
locks, deep nesting, a long word beside a guarded field, a header of table rows,
many suppression comments, a glob of many stars, a file of many functions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(os.path.dirname(HERE), "server")


# -- shapes ------------------------------------------------------------------------

def early_returns(n: int) -> str:
    body = "".join(f"    if (a[{i}]) {{ pthread_mutex_unlock(&m); return {i}; }}\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int *a)\n{{\n    pthread_mutex_lock(&m);\n{body}    pthread_mutex_unlock(&m);\n    return -1;\n}}\n")


def leaking_returns(n: int) -> str:
    body = "".join(f"    if (a[{i}])\n        return {i};\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int *a)\n{{\n    pthread_mutex_lock(&m);\n{body}    pthread_mutex_unlock(&m);\n    return -1;\n}}\n")


def forward_gotos(n: int) -> str:
    body = "".join(f"    if (a[{i}]) goto out;\n    a[{i}]++;\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int *a)\n{{\n    int rc = 0;\n    pthread_mutex_lock(&m);\n{body}"
            "out:\n    pthread_mutex_unlock(&m);\n    return rc;\n}\n")


def backward_gotos(n: int) -> str:
    body = "".join(f"again{i}:\n    a[{i}]++;\n    if (a[{i}] < 3) goto again{i};\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"void f(int *a)\n{{\n    pthread_mutex_lock(&m);\n{body}    pthread_mutex_unlock(&m);\n}}\n")


def lock_pairs(n: int) -> str:
    lines = []
    for i in range(n):
        if i % 10 == 0:
            lines.append("    pthread_mutex_lock(&m);\n    a[0]++;\n    pthread_mutex_unlock(&m);\n")
        else:
            lines.append(f"    a[{i % 97}] += {i};\n")
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"void f(int *a)\n{{\n{''.join(lines)}}}\n")


def switch_cases(n: int) -> str:
    locks = "".join(f"static pthread_mutex_t m{i};\n" for i in range(n))
    cases = "".join(f"    case {i}:\n        pthread_mutex_lock(&m{i});\n        if (a[{i}]) break;\n"
                    f"        pthread_mutex_unlock(&m{i});\n        break;\n" for i in range(n))
    return f"#include <pthread.h>\n{locks}void f(int c, int *a)\n{{\n    switch (c) {{\n{cases}    }}\n}}\n"


def cleanup_ladder(n: int) -> str:
    locks = "".join(f"static pthread_mutex_t m{i};\n" for i in range(n))
    take = "".join(f"    pthread_mutex_lock(&m{i});\n    if (a[{i}]) goto out{i};\n" for i in range(n))
    drop = "".join(f"out{i}:\n    pthread_mutex_unlock(&m{i});\n" for i in reversed(range(n)))
    return (f"#include <pthread.h>\n{locks}int f(int *a)\n{{\n    int rc = 0;\n{take}"
            f"    rc = 1;\n    goto out{n - 1};\n{drop}    return rc;\n}}\n")


def nested_ifs(n: int) -> str:
    opens = "".join(f"{'    ' * 0}if (a[{i}]) {{\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int *a)\n{{\n    pthread_mutex_lock(&m);\n{opens}    return 1;\n{'}' * n}\n"
            "    return 0;\n}\n")  # returns holding m: one lock-leak per path kind


def nested_preproc(n: int) -> str:
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\nvoid f(int x, int y)\n{\n    pthread_mutex_lock(&m);\n"
            + "#if X\n" * n + "x++;\n" + "#else\ny++;\n#endif\n" * n + "    pthread_mutex_unlock(&m);\n}\n")


def else_if_chain(n: int) -> str:
    chain = "    " + "\n    else ".join(f"if (c == {i}) {{ pthread_mutex_unlock(&m); return {i}; }}" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int c)\n{{\n    pthread_mutex_lock(&m);\n{chain}\n    return -1;\n}}\n")  # leaks at the end


def and_chain(n: int) -> str:
    cond = " && ".join(f"a[{i}]" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"int f(int *a)\n{{\n    pthread_mutex_lock(&m);\n    if ({cond})\n        return 1;\n"
            "    pthread_mutex_unlock(&m);\n    return 0;\n}\n")  # leaks on the true branch


def long_word(n_bytes: int) -> str:
    word = "A" * n_bytes
    return ("#include <pthread.h>\nstruct stats {\n    pthread_mutex_t mu;\n"
            "    long hits __attribute__((guarded_by(mu)));\n"
            f"    /* {word} */\n    long misses __attribute__((guarded_by(mu)));\n}};\n"
            "long f(struct stats *s)\n{\n    return s->hits;\n}\n")


def table_rows(n: int) -> str:
    return "".join(f"{{ {i}, \"name{i}\", handler{i % 7} }},\n" for i in range(n))


def open_attribute(n: int) -> str:
    """`__attribute__((` left open before a run of semicolons (the noreturn pattern tried
    every split of the run)."""
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n__attribute__((" + ";" * n +
            "\nvoid f(int *a)\n{\n    pthread_mutex_lock(&m);\n    a[0]++;\n}\n")


def suppressions(n: int) -> str:
    body = "".join(f"    a[{i % 97}]++; /* lockls: ignore[lock-leak] */\n" for i in range(n))
    return ("#include <pthread.h>\nstatic pthread_mutex_t m;\n"
            f"void f(int *a)\n{{\n    pthread_mutex_lock(&m);\n{body}    pthread_mutex_unlock(&m);\n}}\n")


def many_functions(n: int) -> str:
    return "#include <pthread.h>\nstatic pthread_mutex_t m;\n" + "".join(
        f"int f{i}(int *a)\n{{\n    pthread_mutex_lock(&m);\n    if (a[0]) {{ pthread_mutex_unlock(&m); return 1; }}\n"
        f"    pthread_mutex_unlock(&m);\n    return 0;\n}}\n" for i in range(n))


@dataclass
class Shape:
    name: str
    what: str
    make: Callable[[int], str]
    sizes: tuple
    unit: str = ""
    kind: str = "analysis"  # or "glob"


SHAPES = [
    Shape("returns", "early returns under a held lock", early_returns, (2000, 4000, 8000)),
    Shape("leaks", "early returns leaking a held lock", leaking_returns, (2000, 4000)),
    Shape("gotos", "forward gotos under a lock", forward_gotos, (5000,)),
    Shape("loops", "backward goto loops under a lock", backward_gotos, (5000,)),
    Shape("pairs", "statements, a lock pair every 10", lock_pairs, (16000, 50000)),
    Shape("switch", "switch, a lock per case", switch_cases, (250, 500)),
    Shape("ladder", "cleanup ladder of distinct locks", cleanup_ladder, (400, 800)),
    Shape("nested", "nested ifs under a lock", nested_ifs, (200, 1000)),
    Shape("elseif", "else-if chain under a lock", else_if_chain, (330, 2000)),
    Shape("preproc", "nested #if in a body", nested_preproc, (1000, 4000)),
    Shape("and", "&& chain under a lock", and_chain, (1000, 5000)),
    Shape("word", "guarded field beside a long word", long_word, (20000, 40000), unit=" bytes"),
    Shape("table", "header of table rows", table_rows, (4000, 8000)),
    Shape("suppress", "suppression comments", suppressions, (20000,)),
    Shape("attribute", "an open `__attribute__((` before semicolons", open_attribute, (25000, 100000)),
    Shape("functions", "small functions in one file", many_functions, (20000,)),
    Shape("glob", "include glob of 7 stars, 60-character path", lambda n: "", (1000,), unit=" paths", kind="glob"),
]


# -- one measurement, in a child ----------------------------------------------------

CHILD = r"""
import json, resource, sys, time
shape, size, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
import scaling
if kind == "glob":
    from lockls.config.globs import glob_matches
    pattern = "*a*a*a*a*a*a*a*b"
    path = "src/" + "a" * 56
    start = time.perf_counter()
    hits = sum(glob_matches(pattern, path) for _ in range(size))
    out = {"seconds": time.perf_counter() - start, "status": f"{hits} matches"}
else:
    from lockls.config import default_config
    from lockls.engine.driver import analyze_source
    make = {s.name: s.make for s in scaling.SHAPES}[shape]
    source = make(size).encode()
    config = default_config()
    start = time.perf_counter()
    result = analyze_source(source, "/tmp/scaling/" + shape + (".h" if shape == "table" else ".c"), config)
    seconds = time.perf_counter() - start
    if result.skipped:
        status = "skipped: " + result.skipped[0].split(": ", 1)[1]
    elif result.partial:
        status = "in part: " + result.partial[0].split(": ", 1)[1][:60]
    else:
        status = f"analysed, {len(result.findings)} findings"
    out = {"seconds": seconds, "status": status, "lines": source.count(b"\n")}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def measure(shape: Shape, size: int, timeout: float, python: str, server: str) -> dict:
    env = dict(os.environ, PYTHONPATH=server + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    try:
        done = subprocess.run([python, "-c", CHILD, shape.name, str(size), shape.kind, HERE], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"killed after {timeout:.0f} s", "seconds": None, "peak_mb": None}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {tail[:80]}", "seconds": time.perf_counter() - start, "peak_mb": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only the smallest size of each shape")
    ap.add_argument("--shape", action="append", choices=[s.name for s in SHAPES], help="only these shapes")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds before a child is killed (default 180)")
    ap.add_argument("--server", default=SERVER, help="the lockls package's parent directory (to measure another "
                                                      "checkout: its server/)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    rows = []
    print("| shape | size | lines | time | peak memory | result |")
    print("|---|---:|---:|---:|---:|---|")
    for shape in SHAPES:
        if args.shape and shape.name not in args.shape:
            continue
        for size in shape.sizes[:1] if args.quick else shape.sizes:
            got = measure(shape, size, args.timeout, sys.executable, args.server)
            rows.append({"shape": shape.name, "size": size, **got})
            seconds = f"{got['seconds']:.2f} s" if got.get("seconds") is not None else "—"
            peak = f"{got['peak_mb']:.0f} MB" if got.get("peak_mb") is not None else "—"
            print(f"| {shape.what} | {size:,}{shape.unit} | {got.get('lines', '')} | {seconds} | {peak} | "
                  f"{got['status']} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
