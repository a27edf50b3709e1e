#!/usr/bin/env python3
"""Generate the sync shell from the async one.

    python scripts/unasync.py          # rewrite etcdwire/_sync and tests/_sync
    python scripts/unasync.py --check  # fail if anything is out of date, stale, or a rule unused

The substitutions are an explicit list of whole-word regexes; a rule that matches nothing in
any file is an error, so the list cannot rot. Files in an output folder that have no source are
stale and make ``--check`` fail (and are deleted by a normal run).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAIRS = [
    (ROOT / "etcdwire" / "_async", ROOT / "etcdwire" / "_sync"),
    (ROOT / "tests" / "_async", ROOT / "tests" / "_sync"),
]
# Files kept per-flavour (not generated).
SKIP = {"conftest.py"}

SUBS: list[tuple[str, str]] = [
    (r"\bIS_ASYNC = True\b", "IS_ASYNC = False"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\baclose\b", "close"),
    (r"\baspawn\b", "spawn"),
    (r"\basleep\b", "sleep"),
    (r"\b_backends\.asyncio\b", "_backends.sync"),
    (r"\b_async\b", "_sync"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
]
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in SUBS]


def header(source: Path) -> str:
    rel = source.relative_to(ROOT).as_posix()
    return (
        f"# Generated from {rel} by scripts/unasync.py.\n"
        "# DO NOT EDIT: change the source and run `python scripts/unasync.py`.\n"
    )


def transform(text: str, used: set[int]) -> str:
    out = []
    for source_line in text.splitlines(keepends=True):
        line = source_line
        for index, (regex, repl) in enumerate(_COMPILED):
            line, count = regex.subn(repl, line)
            if count:
                used.add(index)
        out.append(line)
    return "".join(out)


def expected_outputs(used: set[int]) -> dict[Path, str]:
    result: dict[Path, str] = {}
    for src_dir, dst_dir in PAIRS:
        for source in sorted(src_dir.rglob("*.py")):
            if source.name in SKIP:
                continue
            target = dst_dir / source.relative_to(src_dir)
            body = transform(source.read_text(), used)
            result[target] = header(source) + body if body.strip() else body
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift; write nothing")
    args = parser.parse_args()
    used: set[int] = set()
    outputs = expected_outputs(used)
    problems: list[str] = []
    unused = [SUBS[i][0] for i in range(len(SUBS)) if i not in used]
    if unused:
        problems.append(f"substitution rules that match nothing: {unused}")
    for _, dst_dir in PAIRS:
        for existing in sorted(dst_dir.rglob("*.py")):
            if existing.name in SKIP:
                continue
            if existing not in outputs:
                problems.append(f"stale generated file: {existing.relative_to(ROOT)}")
                if not args.check:
                    existing.unlink()
    for target, text in outputs.items():
        current = target.read_text() if target.exists() else None
        if current != text:
            problems.append(f"out of date: {target.relative_to(ROOT)}")
            if not args.check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    if args.check:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for problem in problems:
        if problem.startswith("substitution"):
            print(problem, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
