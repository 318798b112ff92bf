"""Reproduce the deep-learning problem set in Keras: `python main.py --list`, `--problem 2C`, `--problem all`.

Everything lives in packages: problems/ (registry, runs, reports), models/, training/, tuning/, data_prep/.
"""

import os
import sys

# TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, CPU features) are noise to a user; hidden unless
# the user asks for them by setting the variable. It must be set before tensorflow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from problems.cli import main  # noqa: E402  (after the environment variable above)

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
