"""The accuracy harness, run from a source checkout: ``skgloss bench`` with this
repository's defaults (cells in ``benchmarks/results/runs/``, data from
``$SKGLOSS_DATA`` or ``../shared/data`` beside the checkout).

The harness itself (protocol, profiles, variants) is :mod:`skgloss.bench`.

Usage:
    python benchmarks/harness.py --profile cpu --datasets mr r8 --seeds 0 1 2
    python benchmarks/render_tables.py --profile cpu
"""

import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import data_home  # noqa: E402

from skgloss.bench import build_parser, run  # noqa: E402


def main(argv=None):
    parser = build_parser()
    parser.set_defaults(runs_dir=str(HERE / "results" / "runs"), data_home=data_home())
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
