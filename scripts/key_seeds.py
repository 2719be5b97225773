"""Grade the instructor's key on many seeds: it must pass every task on every seed.

    python scripts/key_seeds.py                  # 200 seeds, every task
    python scripts/key_seeds.py --tasks 9 11 --seeds 500 --first 1000

Prints one line per failing (task, seed) and a summary; exits 1 if any failed. The suite
runs a few seeds of the same check (tests/tools/test_exercises.py); this is the long run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compare.exercises.grade import grade_task
from compare.exercises.scaffold import new_copy
from compare.exercises.scan import torch_imports
from compare.exercises.tasks import TASKS
from compare.sandbox import Limits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[t.number for t in TASKS])
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds per task")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key"
        new_copy(key, with_solutions=True)
        use = torch_imports(key)
        jobs = [(n, s) for n in args.tasks for s in range(args.first, args.first + args.seeds)]

        def one(job: tuple[int, int]) -> tuple[int, int, str]:
            number, seed = job
            result = grade_task(key, number, seed, Limits(), None, use)
            return number, seed, "" if result.passed else result.line()

        with ThreadPoolExecutor(args.jobs) as pool:
            failed = [r for r in pool.map(one, jobs) if r[2]]
    for _, seed, line in failed:
        print(f"seed {seed}: {line}")
    print(f"{len(jobs) - len(failed)} of {len(jobs)} (task, seed) pairs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
