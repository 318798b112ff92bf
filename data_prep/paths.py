"""Where the data lives: ``--data-dir``, else ``$PS4_DATA_DIR``, else nothing (online fallback)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from data_prep.errors import DataError

DATA_DIR_ENV = "PS4_DATA_DIR"


def resolve_data_dir(cli_value: str | os.PathLike | None = None) -> Path | None:
    """Return the data directory, or None when neither the option nor the variable is set.

    Args:
        cli_value: the ``--data-dir`` option; it wins over ``$PS4_DATA_DIR``.

    Raises:
        DataError: the named directory does not exist.
    """
    value = cli_value if cli_value else os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        source = "--data-dir" if cli_value else f"${DATA_DIR_ENV}"
        raise DataError(
            f"data directory {path} (from {source}) does not exist; point it at a folder holding mnist/ "
            "with the four original MNIST IDX files"
        )
    return path


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    """The file's sha256 as hex, read in blocks (the CDC's full download is gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()
