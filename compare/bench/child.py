"""`python -m compare.bench.child`: one bench run, settings as JSON on stdin, result on stdout.

The parent starts it with an environment of its choosing (--keep-freed-memory sets glibc's
allocator thresholds), which a running process cannot change for itself.
"""

from __future__ import annotations

import json
import sys

from compare.bench.config import BenchConfig
from compare.bench.run import run_bench


def main() -> int:
    settings = json.loads(sys.stdin.read())
    for key in ("sizes", "impls"):
        settings[key] = tuple(settings[key])
    print(json.dumps(run_bench(BenchConfig(**settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
