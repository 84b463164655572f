"""Where a bot's CPU time goes: py-spy samples grouped by the library of the innermost frame.

``bench.telegram_throughput --profile DIR`` records the bot with py-spy (raw, collapsed
stacks) during the measurements. Stacks inside SQLAlchemy's greenlets are cut at the greenlet
by py-spy, so inclusive times mislead; the innermost frame's library is reliable. Samples of
threads waiting (the event loop's ``epoll``, aiosqlite's idle worker threads) are left out.

    python -m bench.pyspy_summary DIR/aiogram-ponte-1.txt [--top 3]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def library(frame: str) -> tuple[str, str] | None:
    """The library and function of a frame, or ``None`` for a sample of a waiting thread."""
    match = FRAME.match(frame)
    function, file = (match["function"], match["file"]) if match else (frame, "")
    if function.startswith("EpollSelector.select"):
        return None  # the event loop waiting for I/O
    if function == "_connection_worker_thread":
        # aiosqlite's worker: line 59 waits for work; the call that runs the statement holds
        # SQLite's own (C) time, as py-spy sees no Python frame below it.
        return ("sqlite3 (C, aiosqlite thread)", function) if ":63)" in frame else None
    # py-spy shortens paths to the import root: "sqlalchemy/orm/session.py", "selectors.py".
    top = file.split("/", 1)[0] if "/" in file else ""
    if file.startswith("<sqlalchemy"):
        name = "sqlalchemy"
    elif top in {"bot", "handlers", "storage", "bench"}:
        name = "ponte:" + top
    elif top in {"asyncio", "concurrent"} or file == "selectors.py":
        name = "asyncio"
    elif top and top not in {"json", "email", "logging", "urllib", "http", "importlib"}:
        name = top
    else:
        name = "stdlib"
    return name, function


def summarise(path: Path) -> tuple[Counter[str], dict[str, Counter[str]]]:
    by_library: Counter[str] = Counter()
    functions: dict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        found = library(stack.split(";")[-1])
        if found is not None:
            by_library[found[0]] += int(count)
            functions[found[0]][found[1]] += int(count)
    return by_library, functions


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=3, help="functions shown per library")
    args = parser.parse_args(argv)
    for path in args.files:
        by_library, functions = summarise(path)
        total = sum(by_library.values())
        print(f"{path.name}: {total} busy samples")
        for name, count in by_library.most_common():
            top = ", ".join(f for f, _ in functions[name].most_common(args.top))
            print(f"  {100 * count / total:5.1f}%  {name:<30} {top[:90]}")


if __name__ == "__main__":
    main()
