"""Old against new in one run: a benchmark's measuring part runs in a child process on the code of
this tree or of a baseline tree (another commit, e.g. `git archive <commit> | tar -x -C DIR`), in
alternating rounds against the same data, so that the load of a shared machine falls on both alike.

The child is this tree's benchmark script run by its path with `--worker`; `PYTHONPATH` names the
tree whose `services/` and `shared/` it imports. It prints one JSON line: named lists of
milliseconds (wall clock, and CPU time of the child process).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

THIS_TREE = Path(__file__).resolve().parent.parent


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def worker(script: Path, tree: Path, args: list[str]) -> dict[str, list[float]]:
    """Run `script --worker args` on the code of `tree`; its timings."""
    env = {**os.environ, "PYTHONPATH": str(tree), "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, str(script), "--worker", *args], env=env, cwd=tree,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the worker on {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternate(baseline: Path, rounds: int, measure: Callable[[str, Path], dict[str, list[float]]],
              before_round: Callable[[str], None] = lambda name: None) -> dict[str, dict[str, list[float]]]:
    """`rounds` rounds of `measure(name, tree)` on this tree and the baseline, the order swapped
    every round; `before_round(name)` prepares the data for that tree. The timings of each tree."""
    trees = {"new": THIS_TREE, "old": baseline.resolve()}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for round_ in range(1, rounds + 1):
        order = list(trees.items()) if round_ % 2 else list(reversed(trees.items()))
        for name, tree in order:
            before_round(name)
            timings = measure(name, tree)
            for key, values in timings.items():
                results[name].setdefault(key, []).extend(values)
            medians = "  ".join(f"{key} p50 {statistics.median(values):.2f}" for key, values in timings.items())
            print(f"round {round_} {name}: {medians} (load average {load_average()})", flush=True)
    return results


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def report(results: dict[str, dict[str, list[float]]]) -> None:
    """p50 / p95 of every figure, new and old side by side, and new/old ratios of the medians."""
    print(f"{'figure':22} {'new p50':>9} {'new p95':>9} {'old p50':>9} {'old p95':>9} {'p50 ratio':>10} "
          f"{'p95 ratio':>10}")
    for key in results["new"]:
        new, old = results["new"][key], results["old"].get(key)
        if not old:
            continue
        n50, n95, o50, o95 = quantile(new, 50), quantile(new, 95), quantile(old, 50), quantile(old, 95)
        print(f"{key:22} {n50:9.2f} {n95:9.2f} {o50:9.2f} {o95:9.2f} {n50 / o50:10.2f} {n95 / o95:10.2f}")
    print(f"(milliseconds; n = {len(next(iter(results['new'].values())))} per figure and tree; "
          f"load average now {load_average()})")
