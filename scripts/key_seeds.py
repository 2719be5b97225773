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

from compare.exercises.grade import grade_tasks
from compare.exercises.scaffold import new_copy
from compare.exercises.scan import torch_imports
from compare.exercises.tasks import TASKS
from compare.sandbox import Limits
from compare.sandbox_tasks import Pool


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
        seeds = range(args.first, args.first + args.seeds)
        pool = Pool(Limits(), hide=(Path(tmp),))  # a thread's sandboxes serve all its seeds

        def one(seed: int) -> list[tuple[int, int, str]]:
            results = grade_tasks(key, args.tasks, seed, torch_use=use, pool=pool)
            return [(r.number, seed, r.line()) for r in results if not r.passed]

        try:
            with ThreadPoolExecutor(args.jobs) as threads:
                failed = [f for fails in threads.map(one, seeds) for f in fails]
        finally:
            pool.close()
        jobs = [(n, s) for n in args.tasks for s in seeds]
    for _, seed, line in failed:
        print(f"seed {seed}: {line}")
    print(f"{len(jobs) - len(failed)} of {len(jobs)} (task, seed) pairs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
