"""Mutation testing of vram.core: run mutmut, print the score, fail below the target.

    pip install -e '.[test]' mutmut==3.8.1
    python scripts/mutation.py [--max-children N] [--target 0.85]

What is mutated and which tests run come from ``[tool.mutmut]`` in pyproject.toml. Results stay
in ``mutants/`` (ignored by git); ``mutmut results`` lists the survivors and ``mutmut show NAME``
prints one as a diff. The score counts a mutant no test reaches ("no tests") as not killed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

TARGET = 0.85
"""Share of mutants the tests must kill (the project's target for core/)."""


def main() -> int:
    """Run mutmut, export its counts, print the score and compare it with the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    parser.add_argument("--target", type=float, default=TARGET, help="minimum share of mutants killed")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)], check=False)
    subprocess.run([sys.executable, "-m", "mutmut", "export-cicd-stats"], check=True)
    stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
    # Killed outright or by a timeout both mean a test noticed the change.
    killed = stats["killed"] + stats["timeout"]
    score = killed / stats["total"] if stats["total"] else 0.0
    print(
        f"mutation score {score:.1%}: {killed} of {stats['total']} killed, {stats['survived']} survived, "
        f"{stats['no_tests']} reached by no test (target {args.target:.0%})"
    )
    return 0 if score >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
