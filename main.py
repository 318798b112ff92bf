"""Reproduce the deep-learning problem set in Keras: `python main.py --list`, `--problem 2C`, `--problem all`.

Everything lives in packages: problems/ (registry, runs, reports), models/, tuning/, data_prep/.
"""

import sys

from problems.cli import main

if __name__ == "__main__":
    sys.exit(main())
