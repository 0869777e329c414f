"""How long the command line takes to answer ``--help``, against importing the estimator.

Runs each command ``--repeats`` times in a fresh Python process, the commands
interleaved (one round runs each once), and records every wall time:

- ``skgloss --help`` and ``skgloss fit --help`` (through ``python -m skgloss``);
- ``import skgloss`` (the package alone);
- ``import skgloss.classifier`` (the estimator: torch and transformers), what
  every ``--help`` cost before the command line stopped importing it.

Usage: python benchmarks/cli_startup.py [--repeats 7]
Writes benchmarks/results/cli_startup.json (medians and the ratio of each to
importing the estimator, measured in the same rounds).
"""

import argparse
import subprocess
import sys
import time

import numpy as np
from _common import machine, write_json

COMMANDS = {
    "skgloss --help": [sys.executable, "-m", "skgloss", "--help"],
    "skgloss fit --help": [sys.executable, "-m", "skgloss", "fit", "--help"],
    "import skgloss": [sys.executable, "-c", "import skgloss"],
    "import skgloss.classifier": [sys.executable, "-c", "import skgloss.classifier"],
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--note", default="", help="what else ran on the machine meanwhile (goes into the JSON)")
    args = p.parse_args(argv)
    seconds = {name: [] for name in COMMANDS}
    for name, cmd in COMMANDS.items():  # warm the file cache once
        subprocess.run(cmd, capture_output=True, check=True)
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            seconds[name].append(time.perf_counter() - t0)
    base = np.median(seconds["import skgloss.classifier"])
    results = [{"command": name, "median_s": float(np.median(s)), "seconds": s,
                "ratio_to_estimator_import": float(np.median(s) / base)} for name, s in seconds.items()]
    path = write_json("cli_startup.json", {"repeats": args.repeats, "note": args.note, "results": results,
                                           "machine": machine()})
    for r in results:
        print(f"{r['command']:<28} {r['median_s']:.3f} s "
              f"({r['ratio_to_estimator_import']:.2f} of the estimator import)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
