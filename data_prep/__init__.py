"""Loading and preparing the problem set's data sets (MNIST, later the Playground and COVID data)."""

from data_prep.errors import DataError
from data_prep.paths import resolve_data_dir

__all__ = ["DataError", "resolve_data_dir"]
