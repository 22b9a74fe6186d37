"""Hostile input sizes: time of the log parser and graph folding at n and 2n, as a growth ratio (2 = linear,
4 = quadratic), next to the regular expression import-log used before (quadratic on a line without '=').

Run: ``python bench/bench_linear_input.py``.
"""

from __future__ import annotations

import platform
import re
import sys
import time

from _harness import print_environment

from mxnet_tb.cli.logparse import parse_lines
from mxnet_tb.summaries.graph import _fold

OLD_METRIC = re.compile(r"([^\t=]+?)=(\S+)")  # the pattern import-log used before, for comparison
PREFIX = "INFO:root:Epoch[0] Batch [0-10]\tSpeed: 100.0 samples/sec\t"


def best(run, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def growth(label: str, make, sizes: tuple[int, int]) -> None:
    small, large = (best(lambda n=n: make(n)) for n in sizes)
    print(f"{label:<48} n={sizes[0]:>7,}: {small * 1e3:9.2f} ms  2n: {large * 1e3:9.2f} ms  ratio {large / small:5.2f}")


def main() -> None:
    print_environment([("python", sys.version.split()[0]), ("platform", platform.platform())])
    growth("parse_lines, Speedometer line without '='", lambda n: parse_lines([PREFIX + "x" * n]), (150_000, 300_000))
    growth(
        "parse_lines, 'Epoch[1] Train-' repeated",
        lambda n: parse_lines(["Epoch[1] Train-" * (n // 15)]),
        (150_000, 300_000),
    )
    growth("old metric regex, line without '=' (reference)", lambda n: OLD_METRIC.findall("x" * n), (5_000, 10_000))
    growth(
        "graph _fold, one name with n/6 cut points",
        lambda n: _fold(["_".join(f"p{i}" for i in range(n // 6))] * 2),
        (75_000, 150_000),
    )


if __name__ == "__main__":
    main()
