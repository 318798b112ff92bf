"""Reproduce the deep-learning problem set in Keras: `python main.py --list`, `--problem 2C`, `--problem all`.

Everything lives in packages: problems/ (registry, runs, reports), models/, tuning/, data_prep/.
"""

import os
import sys

from problems.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
