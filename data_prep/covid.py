"""COVID-19 case surveillance (CDC public-use data): load, validate, clean and encode (2023 2B).

The cleaning follows the 2023 write-up: drop the rows whose label ``death_yn`` is Missing or
Unknown, drop the date columns, and encode every other column, keeping Missing and Unknown as
categories of their own (they are not dropped, so no more rows are lost).

Both CDC schemas load: the 2020 one (race column ``Race and ethnicity (combined)``, three date
columns) and the later one (``race_ethnicity_combined`` and a fourth date column,
``cdc_case_earliest_dt``). The race column is renamed to ``race_ethnicity_combined`` either way.

Counts, not rows: the seven features are categorical, so the cleaned data holds only a few hundred
distinct (features, label) rows however many cases the file has (the CDC's full download has tens
of millions). The file is read in chunks, only the needed columns, and each chunk is reduced to its
distinct rows and their counts, so memory follows the number of distinct rows, not the file's.
``CovidData`` keeps one row per distinct (features, label) with its count: the models train with
the counts as sample weights, which gives the same summed loss as the repeated rows.

Encoding: one-hot is the default, because the models fed with it (2C, 2D) are linear: an integer
code gives a nominal column (race, sex) one weight times an arbitrary order, so code 2 counts as
"twice" code 1; a one-hot column gives each category its own weight. ``encoding="codes"`` gives
the write-up's integer codes, in a fixed order (not the order of first appearance), so that the
codes depend only on which values occur, not on the row order.

Blank cells read as "Missing" (the CDC's own word for an empty field). The shipped extract
(``data/covid/`` in this repository) is the default and its sha256 is verified; a user's
``--covid-csv`` file is validated (columns, label values) and recorded by name and sha256.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.errors import DataError
from data_prep.paths import sha256_of

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_NAME = "COVID-19_Case_Surveillance_Public_Use_Data.csv"
SHIPPED_CSV = REPO_ROOT / "data" / "covid" / SHIPPED_NAME
SHIPPED_SHA256 = "89b44318475374c8d68610d9f1e48ac3d996e49c4290455fe3831d986254e0f6"  # data/covid/SOURCE.md

LABEL = "death_yn"
LABEL_VALUES = ("Yes", "No", "Missing", "Unknown")
KEPT_LABELS = ("No", "Yes")  # the rows that have a label; y = 1 for Yes
RACE = "race_ethnicity_combined"
RACE_2020 = "Race and ethnicity (combined)"
CATEGORICAL = ("current_status", "sex", "age_group", RACE)
YES_NO = ("hosp_yn", "icu_yn", "medcond_yn")
FEATURES = CATEGORICAL + YES_NO
COUNT = "count"  # the aggregated frame's column: cases per distinct (features, label) row
DATE_COLUMNS = ("cdc_case_earliest_dt", "cdc_report_dt", "pos_spec_dt", "onset_dt")
# Yes/no columns get a fixed code order, No = 0 and Yes = 1, so the two real answers keep their meaning.
YES_NO_ORDER = ("No", "Yes", "Missing", "Unknown")
ENCODINGS = ("onehot", "codes")
# Rows parsed at a time: the parser's working memory scales with this, not with the file (measured
# in benchmarks/covid_memory.py); larger chunks read only slightly faster.
CHUNK_ROWS = 200_000


@dataclass
class CovidData:
    """The cleaned, encoded data set, one row per distinct (features, label) with its count of cases.

    Attributes:
        x: float32 features, one row per distinct (features, death_yn) among the cases whose
            death_yn is Yes or No.
        y: int labels, 1 = death (death_yn Yes), 0 = No.
        counts: int64, how many cases each row stands for (the sample weights).
        feature_names: one name per column of ``x`` ("sex=Male" one-hot, "sex" for codes).
        frame: the distinct cleaned rows before encoding: categorical columns, label and ``count``.
        source: the data set by name (path relative to the repository, or the file name) and checksum.
        summary: the cleaning summary (see ``clean_summary``), JSON-serialisable.
    """

    x: np.ndarray
    y: np.ndarray
    counts: np.ndarray
    feature_names: list[str]
    frame: pd.DataFrame
    source: str
    summary: dict = field(default_factory=dict)

    @property
    def cases(self) -> int:
        """The number of cases (rows of the cleaned file), not of distinct rows."""
        return int(self.counts.sum())

    def class_counts(self) -> np.ndarray:
        """Cases per class: [survivors, deaths]."""
        return np.bincount(self.y, weights=self.counts, minlength=2).astype("int64")


def shown_path(path: Path) -> str:
    """How a report names a file: relative to the repository when inside it, else its file name only
    (never a machine's absolute path)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return Path(path).name


def find_covid_csv(covid_csv: str | Path | None, shipped: Path | None = None) -> tuple[Path, bool]:
    """Which CSV to read: ``covid_csv`` if given, else the shipped extract (checksummed).

    Args:
        covid_csv: a user's CDC CSV (``--covid-csv``), or None for the shipped extract.
        shipped: where the shipped extract lives (None: ``SHIPPED_CSV``, in the repository's ``data/covid/``).

    Returns:
        (path, checksummed): the shipped extract is checksummed (True), a user's file is not.

    Raises:
        DataError: the user's file or the shipped extract is missing; the shipped file's sha256 does
            not match.
    """
    if covid_csv is not None:
        path = Path(covid_csv).expanduser()
        if not path.is_file():
            raise DataError(f"--covid-csv {path} does not exist or is not a file")
        return path, False
    shipped = Path(shipped) if shipped is not None else SHIPPED_CSV
    name = shown_path(shipped)
    if not shipped.is_file():
        raise DataError(
            f"the COVID-19 extract {name} is missing from this checkout: restore the repository's data/covid/ "
            "folder (git checkout -- data/covid), or pass a CDC case-surveillance CSV with --covid-csv PATH"
        )
    actual = sha256_of(shipped)
    if actual != SHIPPED_SHA256:
        raise DataError(
            f"the COVID-19 extract {name} has been modified: sha256 {actual[:16]}... should be "
            f"{SHIPPED_SHA256[:16]}... (see data/covid/SOURCE.md); restore it (git checkout -- data/covid), "
            "or pass your own file with --covid-csv PATH"
        )
    return shipped, True


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
        DataError: both race columns are present, or naming every required column that is missing.
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


def _distinct(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum ``count`` over identical rows; sorted, so the result does not depend on the chunking."""
    keys = [c for c in frame.columns if c != COUNT]
    return frame.groupby(keys, sort=True, observed=True)[COUNT].sum().reset_index()


def _check_labels(path: Path, chunk: pd.DataFrame, distinct: pd.DataFrame, seen: int) -> None:
    """Refuse a death_yn value outside Yes/No/Missing/Unknown, naming its first row and line."""
    bad = ~distinct[LABEL].isin(LABEL_VALUES)
    if not bad.any():
        return
    labels = chunk[LABEL].astype(str).replace("", "Missing")
    first = int(np.flatnonzero(~labels.isin(LABEL_VALUES).to_numpy())[0])
    raise DataError(
        f"{path}: death_yn value '{labels.iloc[first]}' in data row {seen + first + 1} "
        f"(line {seen + first + 2}) is not one of {', '.join(LABEL_VALUES)}"
    )


def read_counts(path: Path, race: str, chunk_rows: int = CHUNK_ROWS) -> tuple[pd.DataFrame, int]:
    """Read the feature and label columns in chunks and count the cases per distinct row.

    Each chunk is parsed as categoricals (so grouping works on small integer codes) and reduced to
    its distinct (features, death_yn) rows with their counts before the next one is read: memory
    holds one chunk plus the distinct rows.

    Returns:
        (frame, rows): string columns ``FEATURES + (LABEL,)`` plus ``count``, one row per distinct
        combination (every label, blanks read as "Missing"), and the number of data rows read.

    Raises:
        DataError: a death_yn value outside Yes/No/Missing/Unknown (with its line), or no data rows.
    """
    usecols = [race if c == RACE else c for c in FEATURES] + [LABEL]
    totals = pd.DataFrame(columns=[*FEATURES, LABEL, COUNT])
    seen = 0
    try:
        # keep_default_na=False: the CDC's "NA" is a category, not a float NaN; blanks come back as "".
        reader = pd.read_csv(
            path, usecols=usecols, dtype="category", keep_default_na=False, chunksize=chunk_rows, encoding="utf-8"
        )
        for chunk in reader:
            chunk = chunk.rename(columns={race: RACE})
            counts = chunk.groupby([*FEATURES, LABEL], observed=True, sort=False).size()
            distinct = counts.rename(COUNT).reset_index().astype({c: str for c in (*FEATURES, LABEL)})
            distinct = distinct.replace({c: {"": "Missing"} for c in (*FEATURES, LABEL)})
            _check_labels(path, chunk, distinct, seen)
            seen += len(chunk)
            totals = _distinct(pd.concat([totals, distinct], ignore_index=True))
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable CSV: {err}") from None
    if seen == 0:
        raise DataError(f"{path} has a header but no data rows")
    return totals.astype({COUNT: "int64"}), seen


def category_order(column: str, values) -> list[str]:
    """The fixed order of a column's categories: No, Yes, Missing, Unknown for yes/no columns (then
    any other value), alphabetical otherwise."""
    present = set(values)
    if column in YES_NO:
        return [v for v in YES_NO_ORDER if v in present] + sorted(present - set(YES_NO_ORDER))
    return sorted(present)


def encode(frame: pd.DataFrame, encoding: str = "onehot") -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """Encode the feature columns of a cleaned frame (one row per distinct row or per case alike).

    Args:
        frame: ``read_counts``' output restricted to death_yn Yes/No (or any frame with the
            ``FEATURES`` and ``LABEL`` columns).
        encoding: "onehot" (default; one 0/1 column per category, every category kept, so
            Missing and Unknown get their own weights) or "codes" (one integer column per feature).

    Returns:
        (x, y, feature_names, categories): float32 features, int labels (Yes = 1), the names of
        x's columns, and each feature's categories in code order.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    categories = {c: category_order(c, frame[c].unique()) for c in FEATURES}
    columns, names = [], []
    for c in FEATURES:
        codes = pd.Categorical(frame[c], categories=categories[c]).codes
        if encoding == "codes":
            columns.append(codes[:, None].astype("float32"))
            names.append(c)
        else:
            columns.append(np.eye(len(categories[c]), dtype="float32")[codes])
            names.extend(f"{c}={v}" for v in categories[c])
    x = np.concatenate(columns, axis=1) if len(frame) else np.zeros((0, len(names)), "float32")
    y = (frame[LABEL] == "Yes").to_numpy().astype("int32")
    return x, y, names, categories


def clean_summary(everything: pd.DataFrame, kept: pd.DataFrame, rows: int, header, schema, encoding, names) -> dict:
    """Rows before and after, class counts, columns kept and dropped, and the cases per category.

    Args:
        everything: the distinct rows of every label (``read_counts``); kept: those with Yes/No.
    """
    dates = [c for c in header if c in DATE_COLUMNS]
    cases = int(kept[COUNT].sum())
    before = everything.groupby(LABEL)[COUNT].sum()
    after = kept.groupby(LABEL)[COUNT].sum()
    return {
        "schema": schema,
        "rows_before": rows,
        "rows_after": cases,
        "rows_dropped": rows - cases,
        "distinct_rows": len(kept),
        "death_yn_before": {v: int(n) for v, n in sorted(before.items())},
        "death_yn_after": {v: int(after.get(v, 0)) for v in KEPT_LABELS},
        "date_columns_dropped": dates,
        "other_columns_ignored": [c for c in header if c not in dates and c not in (*FEATURES, RACE_2020, LABEL)],
        "columns_kept": list(FEATURES),
        "label": f"{LABEL} (Yes = 1, No = 0)",
        "categories": {
            c: {v: int(n) for v, n in kept.groupby(c)[COUNT].sum().reindex(category_order(c, kept[c])).items()}
            for c in FEATURES
        },
        "encoding": encoding,
        "n_features": len(names),
    }


def describe_source(path: Path, checksummed: bool, rows: int) -> str:
    """The data set as a report records it: name (repository-relative path or file name) and checksum."""
    if checksummed:
        return f"{shown_path(path)} (sha256 {SHIPPED_SHA256} verified)"
    return (
        f"{shown_path(path)} (user file: sha256 {sha256_of(path)}, {rows} data rows; validated, no reference checksum)"
    )


def load_covid(
    covid_csv: str | Path | None = None,
    encoding: str = "onehot",
    chunk_rows: int = CHUNK_ROWS,
    shipped: Path | None = None,
) -> CovidData:
    """Find, validate, clean, count and encode the CDC data (see the module docstring).

    Args:
        covid_csv: a user's CDC CSV in either schema (validated, not checksummed); None reads the
            shipped extract (``data/covid/``, checksummed).
        encoding: "onehot" (default) or "codes" (the write-up's integer codes).
        chunk_rows: rows parsed at a time.
        shipped: the shipped extract's location (None: ``SHIPPED_CSV``; tests point it at a modified copy).

    Raises:
        DataError: file missing, modified (shipped extract), empty, not a CSV, lacking a required
            column, a death_yn value outside Yes/No/Missing/Unknown, or no row left after cleaning.
    """
    path, checksummed = find_covid_csv(covid_csv, shipped)
    header = read_header(path)
    schema, race = check_columns(path, header)
    everything, rows = read_counts(path, race, chunk_rows)
    kept = everything[everything[LABEL].isin(KEPT_LABELS)].reset_index(drop=True)
    if kept.empty:
        before = everything.groupby(LABEL)[COUNT].sum().to_dict()
        raise DataError(f"{path}: no row has death_yn Yes or No (counts {before}); nothing to learn")
    x, y, names, categories = encode(kept, encoding)
    frame = kept.astype({c: pd.CategoricalDtype(categories[c]) for c in FEATURES})
    return CovidData(
        x=x,
        y=y,
        counts=kept[COUNT].to_numpy(),
        feature_names=names,
        frame=frame,
        source=describe_source(path, checksummed, rows),
        summary=clean_summary(everything, kept, rows, header, schema, encoding, names),
    )
