"""What one run of ``bench.telegram_throughput`` measured, and the table it prints.

Part of ``bench.telegram_throughput``; see there for how it is run.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("aiogram", "ptb")
# Telegram lets a bot send about 25-30 messages a second; Ponte must answer at least four
# times that on one process, so that sending, never answering, is what limits it.
TELEGRAM_SEND_RATE = 25
ANSWERS_FLOOR = 4 * TELEGRAM_SEND_RATE  # registration answers a second
BASELINES = {"echo": "echo", "bare": "bare echo"}  # bot kind → how the ratio line names it


@dataclass
class Result:
    """What one bot did in one run."""

    framework: str
    kind: str
    throughput: float = math.nan  # updates/s, saturated
    burst_cpu_ms: float = math.nan  # bot CPU per update in the burst
    p50: float = math.nan  # reply latency at the offered rate, ms
    p99: float = math.nan
    max_ms: float = math.nan
    offered_rate: float = math.nan  # as achieved by the load generator
    rate_cpu_ms: float = math.nan  # bot CPU per update at the offered rate
    harness_cpu_share: float = math.nan  # this process, of one core, in the burst
    messages_per_update: float = math.nan
    wrong: int = 0
    unexpected: int = 0
    apologies: int = 0
    failed_calls: int = 0
    log_problems: int = 0

    def set_latencies(self, latencies_ms: Sequence[float]) -> None:
        """p50, p99 (nearest rank) and maximum of the latencies."""
        ordered = sorted(latencies_ms)
        self.p50, self.p99 = quantile(ordered, 0.50), quantile(ordered, 0.99)
        self.max_ms = ordered[-1] if ordered else math.nan

    @property
    def problems(self) -> int:
        return self.wrong + self.unexpected + self.apologies + self.failed_calls


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(results: Sequence[Result], title: str) -> None:
    """The table, the ratios Ponte/echo and the floor, per framework."""
    print(f"\n{title}")
    header = (f"{'framework':<9} {'bot':<5} {'updates/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'rate/s':>6} {'msg/upd':>7} {'CPU ms/upd':>10} {'srv CPU':>7} "
              f"{'problems':>8}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.framework:<9} {r.kind:<5} {r.throughput:>9.0f} {r.p50:>7.1f} {r.p99:>7.1f} "
            f"{r.max_ms:>7.1f} {r.offered_rate:>6.0f} {r.messages_per_update:>7.2f} "
            f"{r.burst_cpu_ms:>5.2f}/{r.rate_cpu_ms:<4.2f} {r.harness_cpu_share:>7.0%} "
            f"{r.problems:>8}"
        )
    by_key = {(r.framework, r.kind): r for r in results}
    for framework in FRAMEWORKS:
        ponte = by_key.get((framework, "ponte"))
        if ponte is not None:
            floor_met = ponte.throughput >= ANSWERS_FLOOR
            print(
                f"{framework}: Ponte answers {ponte.throughput:.0f} updates/s "
                f"(floor ≥ {ANSWERS_FLOOR}, {ANSWERS_FLOOR // TELEGRAM_SEND_RATE}× Telegram's "
                f"{TELEGRAM_SEND_RATE} messages/s: {verdict(floor_met)})"
            )
        for kind, name in BASELINES.items():
            baseline = by_key.get((framework, kind))
            if ponte is None or baseline is None:
                continue
            throughput = ponte.throughput / baseline.throughput
            p99 = ponte.p99 / baseline.p99
            print(
                f"{framework}: Ponte/{name} throughput {throughput:.2f}; "
                f"p99 at {ponte.offered_rate:.0f}/s {p99:.2f}×"
            )


def median_results(results: Sequence[Result]) -> list[Result]:
    """Per framework and bot, the median of each figure over the rounds."""
    merged: list[Result] = []
    keys = dict.fromkeys((r.framework, r.kind) for r in results)
    for framework, kind in keys:
        rounds = [r for r in results if (r.framework, r.kind) == (framework, kind)]

        def med(get: Callable[[Result], float], rounds: list[Result] = rounds) -> float:
            return statistics.median(get(r) for r in rounds)

        m = Result(framework, kind)
        m.throughput = med(lambda r: r.throughput)
        m.harness_cpu_share = med(lambda r: r.harness_cpu_share)
        m.burst_cpu_ms, m.rate_cpu_ms = med(lambda r: r.burst_cpu_ms), med(lambda r: r.rate_cpu_ms)
        m.offered_rate = med(lambda r: r.offered_rate)
        m.messages_per_update = med(lambda r: r.messages_per_update)
        m.p50, m.p99, m.max_ms = med(lambda r: r.p50), med(lambda r: r.p99), med(lambda r: r.max_ms)
        m.wrong = sum(r.problems for r in rounds)
        merged.append(m)
    return merged


def versions() -> str:
    """The commit under test and the versions of the libraries that matter here."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    names = ("aiogram", "python-telegram-bot", "httpx", "httpcore", "aiohttp", "SQLAlchemy",
             "greenlet", "pydantic")  # fmt: skip
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return f"commit {commit or 'unknown'}; " + ", ".join(found)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}); Python {sys.version.split()[0]}; load {load}"
