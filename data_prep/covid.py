"""COVID-19 case surveillance (CDC public-use data): load, validate, clean and encode (2023 2B).

The cleaning follows the 2023 write-up: drop the rows whose label ``death_yn`` is Missing or
Unknown, drop the date columns, and encode every other column, keeping Missing and Unknown as
categories of their own (they are not dropped, so no more rows are lost).

Both CDC schemas load: the 2020 one (race column ``Race and ethnicity (combined)``, three date
columns) and the later one (``race_ethnicity_combined`` and a fourth date column,
``cdc_case_earliest_dt``). The race column is renamed to ``race_ethnicity_combined`` either way.

Encoding: one-hot is the default, because the models fed with it (2C, 2D) are linear: an integer
code gives a nominal column (race, sex) one weight times an arbitrary order, so code 2 counts as
"twice" code 1; a one-hot column gives each category its own weight. ``encoding="codes"`` gives
the write-up's integer codes (pandas ``factorize``), with a fixed order instead of the order of
first appearance, so that the codes depend only on which values occur, not on the row order.

Blank cells read as "Missing" (the CDC's own word for an empty field). The shipped extract's sha256
is verified; a user's ``--covid-csv`` file is validated (columns, label values) but not checksummed.
The file is read in chunks, only the needed columns, as categoricals: the CDC's full download has
tens of millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from data_prep.errors import DataError
from data_prep.paths import sha256_of

SHIPPED_NAME = "COVID-19_Case_Surveillance_Public_Use_Data.csv"
SHIPPED_SHA256 = "89b44318475374c8d68610d9f1e48ac3d996e49c4290455fe3831d986254e0f6"  # shared/data/covid/SOURCE.md

LABEL = "death_yn"
LABEL_VALUES = ("Yes", "No", "Missing", "Unknown")
KEPT_LABELS = ("No", "Yes")  # the rows that have a label; y = 1 for Yes
RACE = "race_ethnicity_combined"
RACE_2020 = "Race and ethnicity (combined)"
CATEGORICAL = ("current_status", "sex", "age_group", RACE)
YES_NO = ("hosp_yn", "icu_yn", "medcond_yn")
FEATURES = CATEGORICAL + YES_NO
DATE_COLUMNS = ("cdc_case_earliest_dt", "cdc_report_dt", "pos_spec_dt", "onset_dt")
# Yes/no columns get a fixed code order, No = 0 and Yes = 1, so the two real answers keep their meaning.
YES_NO_ORDER = ("No", "Yes", "Missing", "Unknown")
ENCODINGS = ("onehot", "codes")
CHUNK_ROWS = 1_000_000  # rows per read: bounded memory on the CDC's full file


@dataclass
class CovidData:
    """The cleaned, encoded data set.

    Attributes:
        x: float32 features, one row per case whose death_yn is Yes or No.
        y: int labels, 1 = death (death_yn Yes), 0 = No.
        feature_names: one name per column of ``x`` ("sex=Male" one-hot, "sex" for codes).
        frame: the cleaned categorical columns before encoding (label included).
        source: the file read, and whether it was checksummed.
        summary: the cleaning summary (see ``clean_summary``), JSON-serialisable.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    frame: pd.DataFrame
    source: str
    summary: dict = field(default_factory=dict)


def find_covid_csv(data_dir: str | Path | None, covid_csv: str | Path | None) -> tuple[Path, bool]:
    """Which CSV to read: ``covid_csv`` if given, else the shipped extract under ``data_dir``.

    Returns:
        (path, checksummed): the shipped extract is checksummed (True), a user's file is not.

    Raises:
        DataError: neither is given; the file is missing; the shipped file's sha256 does not match.
    """
    if covid_csv is not None:
        path = Path(covid_csv).expanduser()
        if not path.is_file():
            raise DataError(f"--covid-csv {path} does not exist or is not a file")
        return path, False
    if data_dir is None:
        raise DataError(
            "no COVID-19 data: set PS4_DATA_DIR (or --data-dir) to a folder holding covid/ (e.g. ../shared/data), "
            "or pass --covid-csv PATH to a CDC case-surveillance CSV"
        )
    folder = Path(data_dir)
    path = folder / SHIPPED_NAME if folder.name == "covid" else folder / "covid" / SHIPPED_NAME
    if not path.is_file():
        raise DataError(f"COVID-19 extract {path} is missing; copy it from shared/data/covid/ or pass --covid-csv PATH")
    actual = sha256_of(path)
    if actual != SHIPPED_SHA256:
        raise DataError(
            f"COVID-19 extract {path} has been modified: sha256 {actual[:16]}... should be {SHIPPED_SHA256[:16]}... "
            "(see shared/data/covid/SOURCE.md); restore it, or pass your own file with --covid-csv PATH"
        )
    return path, True


def read_header(path: Path) -> list[str]:
    """The CSV's column names; refuses an empty, binary or header-less file."""
    try:
        return list(pd.read_csv(path, nrows=0, encoding="utf-8").columns)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a CDC case-surveillance CSV with a header row") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text CSV (it is not valid UTF-8)") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path} is not a readable CSV: {err}") from None


def check_columns(path: Path, header: list[str]) -> tuple[str, str]:
    """Which schema ``header`` is, and the name of its race column.

    Raises:
        DataError: naming every required column that is missing.
    """
    has_2020, has_later = RACE_2020 in header, RACE in header
    if has_2020 and has_later:
        raise DataError(f"{path} has both race columns '{RACE_2020}' and '{RACE}': keep one")
    race = RACE_2020 if has_2020 else RACE
    required = [c for c in FEATURES if c != RACE] + [LABEL]
    missing = [c for c in required if c not in header] + (
        [] if has_2020 or has_later else [f"{RACE} (or '{RACE_2020}')"]
    )
    if missing:
        shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
        raise DataError(
            f"{path} is not a CDC case-surveillance CSV: missing required column(s) {', '.join(missing)}; "
            f"found columns: {shown or '(none)'}"
        )
    schema = (
        "2020 (three date columns, 'Race and ethnicity (combined)')" if has_2020 else "later (race_ethnicity_combined)"
    )
    return schema, race


def read_clean(path: Path, race: str, chunk_rows: int = CHUNK_ROWS) -> tuple[pd.DataFrame, dict]:
    """Read the feature and label columns in chunks; keep the rows whose death_yn is Yes or No.

    Returns:
        (frame, label_counts_before): categorical columns ``FEATURES + (LABEL,)``, and death_yn's
        counts over every row read.

    Raises:
        DataError: a death_yn value outside Yes/No/Missing/Unknown (with its line), or no data rows.
    """
    usecols = [c if c != RACE else race for c in FEATURES] + [LABEL]
    parts: dict[str, list] = {c: [] for c in (*FEATURES, LABEL)}
    before: dict[str, int] = {}
    seen = 0
    try:
        # keep_default_na=False: the CDC's "NA" is a category, not a float NaN; blanks come back as "".
        reader = pd.read_csv(
            path, usecols=usecols, dtype=str, keep_default_na=False, chunksize=chunk_rows, encoding="utf-8"
        )
        for chunk in reader:
            chunk = chunk.rename(columns={race: RACE}).replace("", "Missing")
            bad = ~chunk[LABEL].isin(LABEL_VALUES)
            if bad.any():
                first = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(
                    f"{path}: death_yn value '{chunk[LABEL].iloc[first]}' in data row {seen + first + 1} "
                    f"(line {seen + first + 2}) is not one of {', '.join(LABEL_VALUES)}"
                )
            for value, count in chunk[LABEL].value_counts().items():
                before[value] = before.get(value, 0) + int(count)
            seen += len(chunk)
            kept = chunk[chunk[LABEL].isin(KEPT_LABELS)]
            for column in parts:
                parts[column].append(kept[column].astype("category"))
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable CSV: {err}") from None
    if seen == 0:
        raise DataError(f"{path} has a header but no data rows")
    frame = pd.DataFrame({c: union_categoricals(p, sort_categories=True) for c, p in parts.items()})
    return frame, {"rows": seen, "death_yn": dict(sorted(before.items()))}


def category_order(column: str, values) -> list[str]:
    """The fixed order of a column's categories: No, Yes, Missing, Unknown for yes/no columns (then
    any other value), alphabetical otherwise."""
    present = set(values)
    if column in YES_NO:
        return [v for v in YES_NO_ORDER if v in present] + sorted(present - set(YES_NO_ORDER))
    return sorted(present)


def encode(frame: pd.DataFrame, encoding: str = "onehot") -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """Encode the feature columns of a cleaned frame.

    Args:
        frame: ``read_clean``'s output.
        encoding: "onehot" (default; one 0/1 column per category, every category kept, so
            Missing and Unknown get their own weights) or "codes" (one integer column per feature).

    Returns:
        (x, y, feature_names, categories): float32 features, int labels (Yes = 1), the names of
        x's columns, and each feature's categories in code order.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    categories = {c: category_order(c, frame[c].cat.categories) for c in FEATURES}
    columns, names = [], []
    for c in FEATURES:
        codes = frame[c].cat.set_categories(categories[c]).cat.codes.to_numpy()
        if encoding == "codes":
            columns.append(codes[:, None].astype("float32"))
            names.append(c)
        else:
            columns.append(np.eye(len(categories[c]), dtype="float32")[codes])
            names.extend(f"{c}={v}" for v in categories[c])
    x = np.concatenate(columns, axis=1) if len(frame) else np.zeros((0, len(names)), "float32")
    y = (frame[LABEL] == "Yes").to_numpy().astype("int32")
    return x, y, names, categories


def clean_summary(frame: pd.DataFrame, before: dict, header: list[str], schema: str, encoding: str, names) -> dict:
    """Rows before and after, class counts, columns kept and dropped, and the categories per column."""
    dates = [c for c in header if c in DATE_COLUMNS]
    return {
        "schema": schema,
        "rows_before": before["rows"],
        "rows_after": len(frame),
        "rows_dropped": before["rows"] - len(frame),
        "death_yn_before": before["death_yn"],
        "death_yn_after": {v: int((frame[LABEL] == v).sum()) for v in KEPT_LABELS},
        "date_columns_dropped": dates,
        "other_columns_ignored": [c for c in header if c not in dates and c not in (*FEATURES, RACE_2020, LABEL)],
        "columns_kept": list(FEATURES),
        "label": f"{LABEL} (Yes = 1, No = 0)",
        "categories": {
            c: {
                v: int(n)
                for v, n in frame[c].value_counts().reindex(category_order(c, frame[c].cat.categories)).items()
            }
            for c in FEATURES
        },
        "encoding": encoding,
        "n_features": len(names),
    }


def load_covid(
    data_dir: str | Path | None = None,
    covid_csv: str | Path | None = None,
    encoding: str = "onehot",
    chunk_rows: int = CHUNK_ROWS,
) -> CovidData:
    """Find, validate, clean and encode the CDC data (see the module docstring).

    Args:
        data_dir: folder holding ``covid/`` (the shipped extract, checksummed); used when
            ``covid_csv`` is None.
        covid_csv: a user's CDC CSV in either schema (validated, not checksummed).
        encoding: "onehot" (default) or "codes" (the write-up's integer codes).
        chunk_rows: rows read at a time.

    Raises:
        DataError: no data given; file missing, modified (shipped extract), empty, not a CSV,
            lacking a required column, a death_yn value outside Yes/No/Missing/Unknown, or no row
            left after cleaning.
    """
    path, checksummed = find_covid_csv(data_dir, covid_csv)
    header = read_header(path)
    schema, race = check_columns(path, header)
    frame, before = read_clean(path, race, chunk_rows)
    if len(frame) == 0:
        raise DataError(f"{path}: no row has death_yn Yes or No (counts {before['death_yn']}); nothing to learn")
    x, y, names, _ = encode(frame, encoding)
    source = (
        f"{path} (sha256 {SHIPPED_SHA256} verified)" if checksummed else f"{path} (user file: validated, no checksum)"
    )
    summary = clean_summary(frame, before, header, schema, encoding, names)
    return CovidData(x=x, y=y, feature_names=names, frame=frame, source=source, summary=summary)
