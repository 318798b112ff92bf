"""COVID-19 data (2023 2B-2D): cleaning in both CDC schemas, refusals of malformed files, the shipped
extract's counts and checksum, counts in place of rows (loader, split, weighted training and
measures), the two-layer collapse, and the CLI end to end on a small file."""

import json
import shutil

import numpy as np
import pytest

import data_prep.covid as covid
from data_prep.covid import SHIPPED_CSV, SHIPPED_NAME, encode, load_covid
from data_prep.errors import DataError
from problems.cli import main

HEADER_2020 = (
    "cdc_report_dt,pos_spec_dt,onset_dt,current_status,sex,age_group,Race and ethnicity (combined),"
    "hosp_yn,icu_yn,death_yn,medcond_yn"
)
ROWS_2020 = [
    '10/11/2020,10/11/2020,,Laboratory-confirmed case,Male,10 - 19 Years,"Black, Non-Hispanic",No,Unknown,No,No',
    "14/11/2020,10/11/2020,,Probable Case,Female,20 - 29 Years,Hispanic/Latino,Yes,Yes,Yes,Yes",
    "14/11/2020,,,Laboratory-confirmed case,Unknown,10 - 19 Years,Missing,Missing,Missing,No,Missing",
    "15/11/2020,,,Laboratory-confirmed case,Missing,10 - 19 Years,Unknown,No,No,Missing,No",  # dropped
    "16/11/2020,,,Laboratory-confirmed case,Male,20 - 29 Years,Unknown,No,No,Unknown,No",  # dropped
    "17/11/2020,,,Laboratory-confirmed case,,20 - 29 Years,Hispanic/Latino,Unknown,No,No,",  # blanks -> Missing
]
HEADER_LATER = (
    "cdc_case_earliest_dt,cdc_report_dt,pos_spec_dt,onset_dt,current_status,sex,age_group,"
    "race_ethnicity_combined,hosp_yn,icu_yn,death_yn,medcond_yn"
)


def write_csv(path, header, rows):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def later_rows():
    """The same cases in the later schema: an extra leading date column, the race column renamed."""
    return ["2020/11/01," + row for row in ROWS_2020]


@pytest.mark.parametrize("schema", ["2020", "later"])
def test_cleaning_in_each_schema(tmp_path, schema):
    # Missing/Unknown labels dropped, dates gone, Missing/Unknown kept as categories elsewhere.
    header, rows = (HEADER_2020, ROWS_2020) if schema == "2020" else (HEADER_LATER, later_rows())
    data = load_covid(covid_csv=write_csv(tmp_path / "cases.csv", header, rows))
    s = data.summary
    assert s["schema"].startswith(schema)
    assert (s["rows_before"], s["rows_after"], s["rows_dropped"]) == (6, 4, 2)
    assert s["death_yn_before"] == {"Missing": 1, "No": 3, "Unknown": 1, "Yes": 1}
    assert s["death_yn_after"] == {"No": 3, "Yes": 1}
    assert len(s["date_columns_dropped"]) == (3 if schema == "2020" else 4)
    assert not any(name.endswith("_dt") for name in data.frame.columns)
    assert "race_ethnicity_combined" in data.frame.columns
    assert s["categories"]["sex"] == {"Female": 1, "Male": 1, "Missing": 1, "Unknown": 1}  # blank read as Missing
    assert s["categories"]["hosp_yn"] == {"No": 1, "Yes": 1, "Missing": 1, "Unknown": 1}
    assert s["categories"]["medcond_yn"] == {"No": 1, "Yes": 1, "Missing": 2}
    # The four kept cases differ from each other: four distinct rows of one case each.
    assert data.counts.tolist() == [1, 1, 1, 1] and data.class_counts().tolist() == [3, 1]
    assert data.frame.loc[data.y == 1, "sex"].tolist() == ["Female"]
    # One-hot: one column per category, each row has exactly one 1 per feature column.
    assert "sex=Unknown" in data.feature_names and "race_ethnicity_combined=Missing" in data.feature_names
    assert data.x.shape == (4, len(data.feature_names)) and data.x.dtype == np.float32
    assert data.x.sum(axis=1).tolist() == [7.0] * 4
    unknown = (data.frame["sex"] == "Unknown").to_numpy()
    assert data.x[unknown, data.feature_names.index("sex=Unknown")].tolist() == [1.0]


def test_integer_codes_follow_a_fixed_order(tmp_path):
    data = load_covid(covid_csv=write_csv(tmp_path / "cases.csv", HEADER_2020, ROWS_2020), encoding="codes")
    x, names, frame = data.x, data.feature_names, data.frame
    assert names == ["current_status", "sex", "age_group", "race_ethnicity_combined", "hosp_yn", "icu_yn", "medcond_yn"]

    def codes(column):
        return dict(zip(frame[column].astype(str), x[:, names.index(column)].tolist(), strict=True))

    # sex alphabetical: Female 0, Male 1, Missing 2, Unknown 3; yes/no columns: No 0, Yes 1, Missing 2, Unknown 3.
    assert codes("sex") == {"Female": 0, "Male": 1, "Missing": 2, "Unknown": 3}
    assert codes("hosp_yn") == {"No": 0, "Yes": 1, "Missing": 2, "Unknown": 3}
    assert codes("icu_yn") == {"No": 0, "Yes": 1, "Missing": 2, "Unknown": 3}
    with pytest.raises(ValueError, match="encoding"):
        encode(data.frame, "ordinal")


def test_chunked_reading_matches_one_read_and_counts_lines(tmp_path):
    # Repeated cases spread over several chunks add up to one distinct row with their count.
    path = write_csv(tmp_path / "cases.csv", HEADER_2020, ROWS_2020 * 3)
    whole, chunked = load_covid(covid_csv=path), load_covid(covid_csv=path, chunk_rows=2)
    assert np.array_equal(whole.x, chunked.x) and np.array_equal(whole.counts, chunked.counts)
    assert whole.summary == chunked.summary and whole.summary["rows_before"] == 18
    assert chunked.counts.tolist() == [3, 3, 3, 3] and chunked.class_counts().tolist() == [9, 3]
    bad = ROWS_2020 + [ROWS_2020[0].replace(",No,No", ",Maybe,No")]
    with pytest.raises(DataError, match=r"'Maybe' in data row 7 \(line 8\)"):
        load_covid(covid_csv=write_csv(tmp_path / "bad.csv", HEADER_2020, bad), chunk_rows=2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER_2020.replace(",icu_yn", "") + "\n", "missing required column(s) icu_yn"),
        (HEADER_2020 + ",race_ethnicity_combined\n" + ROWS_2020[0] + ",Unknown\n", "has both race columns"),
        (HEADER_2020.replace("Race and ethnicity (combined)", "race") + "\n", "race_ethnicity_combined (or"),
        ("", "is empty"),
        (HEADER_2020 + "\n", "no data rows"),
        ("hello,world\n1,2\n", "not a CDC case-surveillance CSV"),
        (HEADER_2020 + "\n" + ROWS_2020[0].replace(",No,No", ",dead,No") + "\n", "death_yn value 'dead' in data row 1"),
        (HEADER_2020 + "\n" + ROWS_2020[3] + "\n", "no row has death_yn Yes or No"),
    ],
)
def test_malformed_csvs_are_refused_by_name(tmp_path, content, message):
    path = tmp_path / "cases.csv"
    path.write_text(content)
    with pytest.raises(DataError, match="cases.csv") as err:
        load_covid(covid_csv=path)
    assert message in str(err.value)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 20)
    with pytest.raises(DataError, match="cases.csv"):
        load_covid(covid_csv=path)


def test_missing_shipped_extract_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="is missing from this checkout") as err:
        load_covid(shipped=tmp_path / "covid" / SHIPPED_NAME)
    assert "data/covid" in str(err.value) and "--covid-csv" in str(err.value) and "shared" not in str(err.value)


@pytest.mark.parametrize("problem", ["2B", "2C", "2D"])
def test_cli_refuses_a_malformed_csv_and_writes_nothing(tmp_path, capsys, problem):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER_2020 + "\n" + ROWS_2020[0].replace(",No,No", ",Maybe,No") + "\n")
    out = tmp_path / "reports"
    code = main(["--edition", "2023", "--problem", problem, "--covid-csv", str(path), "--out", str(out), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cases.csv" in err and "Maybe" in err and "Traceback" not in err
    assert not list(out.rglob("result.json")) and not (out / "2023" / problem).exists()


def test_cli_refuses_too_few_deaths_to_split_and_writes_nothing(tmp_path, capsys):
    # One death cannot be stratified into train and test: refused before anything is written.
    path = write_csv(tmp_path / "cases.csv", HEADER_2020, ROWS_2020)
    out = tmp_path / "reports"
    assert main(["--edition", "2023", "--problem", "2C", "--covid-csv", str(path), "--out", str(out)]) == 1
    assert "needs at least 2 of each" in capsys.readouterr().err
    assert not out.exists()


def test_shipped_extract_is_the_default_without_a_data_dir(monkeypatch):
    # No data directory at all: the extract in the repository's data/covid/ is found and checksummed.
    monkeypatch.delenv("PS4_DATA_DIR", raising=False)
    data = load_covid()
    s = data.summary
    assert (s["rows_before"], s["rows_after"]) == (11549, 5322)
    assert s["death_yn_before"] == {"Missing": 4441, "No": 5316, "Unknown": 1786, "Yes": 6}
    assert s["death_yn_after"] == {"No": 5316, "Yes": 6} and data.class_counts().tolist() == [5316, 6]
    assert s["date_columns_dropped"] == ["cdc_report_dt", "pos_spec_dt", "onset_dt"]
    # Recorded by its path in the repository and its checksum, never a machine's absolute path.
    assert data.source == f"data/covid/{SHIPPED_NAME} (sha256 {covid.SHIPPED_SHA256} verified)"
    assert data.x.shape == (s["distinct_rows"], 30) and data.cases == 5322 and s["distinct_rows"] < 400


def test_aggregated_loader_matches_row_by_row_reading():
    # The counts per distinct row give the same class counts and one-hot column totals as reading
    # every row of the extract and encoding it case by case.
    import pandas as pd

    rows = pd.read_csv(SHIPPED_CSV, dtype=str, keep_default_na=False).replace("", "Missing")
    rows = rows.rename(columns={covid.RACE_2020: covid.RACE})
    rows = rows[rows[covid.LABEL].isin(["Yes", "No"])]
    data = load_covid()
    x, y, names, _ = encode(rows, "onehot")
    assert names == data.feature_names
    assert data.class_counts().tolist() == np.bincount(y, minlength=2).tolist() == [5316, 6]
    assert np.array_equal((data.x * data.counts[:, None]).sum(axis=0), x.sum(axis=0))
    deaths = data.x[data.y == 1] * data.counts[data.y == 1, None]
    assert np.array_equal(deaths.sum(axis=0), x[y == 1].sum(axis=0))


def test_modified_shipped_extract_is_refused(tmp_path, capsys, monkeypatch):
    # A changed copy in the shipped extract's place fails its checksum: refused, not just flagged.
    copy = tmp_path / "covid" / SHIPPED_NAME
    copy.parent.mkdir()
    shutil.copyfile(SHIPPED_CSV, copy)
    with copy.open("a") as fh:
        fh.write("10/11/2020,10/11/2020,,Probable Case,Male,10 - 19 Years,Unknown,No,No,Yes,No\n")
    with pytest.raises(DataError, match="has been modified: sha256") as err:
        load_covid(shipped=copy)
    message = str(err.value)
    assert "data/covid/SOURCE.md" in message and "--covid-csv" in message and "shared" not in message
    monkeypatch.setattr(covid, "SHIPPED_CSV", copy)
    out = tmp_path / "reports"
    assert main(["--edition", "2023", "--problem", "2B", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "has been modified" in err and "shared" not in err and not out.exists()
    # The same file passed as --covid-csv is a user's file: validated, recorded by name and sha256.
    user = load_covid(covid_csv=copy)
    assert user.summary["death_yn_after"] == {"No": 5316, "Yes": 7}
    assert user.source.startswith(f"{SHIPPED_NAME} (user file: sha256 ") and str(tmp_path) not in user.source


def test_two_linear_layers_collapse_to_one_map():
    from models.linear import build_linear_1, build_linear_2, collapse_linear_2

    model = build_linear_2(3, hidden_units=2)
    w1 = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]], "float32")
    b1 = np.array([0.5, -1.0], "float32")
    w2 = np.array([[2.0], [-3.0]], "float32")
    b2 = np.array([0.25], "float32")
    model.layers[0].set_weights([w1, b1])
    model.layers[1].set_weights([w2, b2])
    w, b = collapse_linear_2(model)
    assert np.allclose(w.ravel(), [2 - 6, 0 + 3, 6 - 1.5]) and np.allclose(b, [1.0 + 3.0 + 0.25])
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [-1.0, 3.0, 0.5]], "float32")
    assert np.max(np.abs(model.predict(x, verbose=0).ravel() - (x @ w + b).ravel())) < 1e-5
    # A 1-layer model given (W, b) computes the same function.
    single = build_linear_1(3)
    single.layers[0].set_weights([w.astype("float32"), b.astype("float32")])
    assert np.allclose(single.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="two Dense layers"):
        collapse_linear_2(single)


def synthetic_csv(path, n=300, deaths=10, seed=0):
    """A later-schema CSV where hospitalised ICU cases die: learnable, with deaths on both sides of a split."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        dead = i < deaths
        label = "Yes" if dead else rng.choice(["No", "No", "Missing", "Unknown"])
        hosp, icu = ("Yes", "Yes") if dead else (rng.choice(["No", "Missing"]), rng.choice(["No", "Unknown"]))
        sex, race = rng.choice(["Male", "Female", "Unknown"]), rng.choice(["White, Non-Hispanic", "Missing"])
        rows.append(f',,,,Laboratory-confirmed case,{sex},20 - 29 Years,"{race}",{hosp},{icu},{label},No')
    return write_csv(path, HEADER_LATER, rows)


@pytest.mark.backends
def test_cli_runs_2c_and_2d_end_to_end(tmp_path):
    # The whole path on a small file: result.json with the table, the collapse check and 2C inside 2D.
    path = synthetic_csv(tmp_path / "cases.csv")
    out = tmp_path / "reports"
    args = ["--edition", "2023", "--covid-csv", str(path), "--out", str(out), "--epochs", "3", "--quiet"]
    assert main(["--problem", "2C", *args]) == 0
    assert main(["--problem", "2D", *args]) == 0
    r2c = json.loads((out / "2023" / "2C" / "result.json").read_text())
    r2d = json.loads((out / "2023" / "2D" / "result.json").read_text())
    assert r2c["split"]["test_deaths"] == 3 and r2c["split"]["train_deaths"] == 7
    assert r2c["data"].startswith("cases.csv (user file: sha256 ") and str(tmp_path) not in r2c["data"]
    assert r2c["epochs"] == 3 and len(r2c["history"]["linear_1"]) == 3
    assert r2d["metrics"]["linear_1"] == r2c["metrics"]["linear_1"]  # same seed, same split, same 2C
    for name in ("linear_1", "linear_2", "constant_no", "optimum"):
        m = r2d["metrics"][name]
        assert set(m) >= {"loss", "accuracy", "balanced_accuracy", "roc_auc", "confusion_matrix"}
        assert sum(map(sum, m["confusion_matrix"])) == r2d["split"]["test_rows"]
    assert r2d["metrics"]["constant_no"]["balanced_accuracy"] == 0.5
    collapse = r2d["metrics"]["collapse"]
    assert collapse["max_abs_logit_difference"] < 1e-4
    assert collapse["loss_single_map"] == pytest.approx(collapse["loss_two_layer"], abs=1e-5)
    assert (out / "2023" / "2D" / "loss_and_roc.png").stat().st_size > 1000
    assert "2C linear" in (out / "2023" / "2D" / "comparison.md").read_text()


def test_seeds_train_each_network_once_per_seed_on_one_split_and_judge_2d_against_the_spread(tmp_path):
    path = synthetic_csv(tmp_path / "cases.csv")
    args = ["--edition", "2023", "--problem", "2D", "--covid-csv", str(path), "--epochs", "5", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--seeds", "2"]) == 0
    one = json.loads((tmp_path / "one" / "2023" / "2D" / "result.json").read_text())
    two = json.loads((tmp_path / "two" / "2023" / "2D" / "result.json").read_text())
    assert two["split"] == one["split"]  # the seeds vary the initial weights, not the split
    assert [(r["model"][:2], r["seed"]) for r in two["per_seed"]] == [("2D", 1), ("2D", 2), ("2C", 1), ("2C", 2)]
    for name, rows in (("linear_2", two["per_seed"][:2]), ("linear_1", two["per_seed"][2:])):
        seeds = two["metrics"][name]["over_seeds"]
        losses = [r["test_loss"] for r in rows]
        assert seeds["seeds"] == [1, 2] and seeds["loss_mean"] == pytest.approx(np.mean(losses))
        assert seeds["loss_std"] == pytest.approx(np.std(losses, ddof=1)) and seeds["loss_std"] > 0
        assert rows[0]["test_loss"] == pytest.approx(one["metrics"][name]["loss"])  # seed 1 as in a one-seed run
        assert one["metrics"][name]["over_seeds"]["loss_std"] is None
    assert "no seed spread was measured (one seed)" in one["notes"][-1]
    assert "Mean test loss over seeds [1, 2]" in two["notes"][-1] and "the seed spread (" in two["notes"][-1]
    assert " ± " in two["headline"] and "## Per seed" in (tmp_path / "two" / "2023" / "2D" / "report.md").read_text()


def test_split_divides_each_rows_count_stratified_and_seeded():
    from problems.covid import split

    data = load_covid()
    parts = split(data, seed=1)
    assert (parts.train.total, parts.test.total) == (3725, 1597)
    assert (parts.train.deaths, parts.test.deaths) == (4, 2)  # 0.3 of 6 deaths, rounded
    # Every case lands on exactly one side.
    for row in range(len(data.y)):
        found = [
            int(cases.counts[np.flatnonzero((cases.x == data.x[row]).all(axis=1) & (cases.y == data.y[row]))].sum())
            for cases in (parts.train, parts.test)
        ]
        assert sum(found) == data.counts[row]
    again, other = split(data, seed=1), split(data, seed=2)
    assert np.array_equal(again.test.counts, parts.test.counts) and np.array_equal(again.test.x, parts.test.x)
    assert not (len(other.test.y) == len(parts.test.y) and np.array_equal(other.test.counts, parts.test.counts))


def _tiny_rows():
    x = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], "float32")
    y = np.array([1, 0, 0, 1], "int32")
    counts = np.array([3, 5, 1, 2])
    return x, y, counts


def test_weighted_training_equals_the_repeated_rows():
    # Counts as weights give Keras' loss on the repeated rows, and the same weights after full-batch steps.
    from models.linear import build_linear_1, fit_weighted
    from training import set_seed

    x, y, counts = _tiny_rows()
    set_seed(0)
    weighted = build_linear_1(3, learning_rate=0.1)
    set_seed(0)
    repeated = build_linear_1(3, learning_rate=0.1)
    assert all(np.array_equal(a, b) for a, b in zip(weighted.get_weights(), repeated.get_weights(), strict=True))
    x_rep, y_rep = np.repeat(x, counts, axis=0), np.repeat(y, counts)
    loss_rep = repeated.evaluate(x_rep, y_rep, batch_size=len(y_rep), verbose=0)[0]
    loss_w = weighted.evaluate(x, y, sample_weight=counts / counts.mean(), batch_size=len(y), verbose=0)[0]
    assert loss_w == pytest.approx(loss_rep, rel=1e-6)
    history = fit_weighted(weighted, x, y, counts, epochs=5)
    repeated.fit(x_rep, y_rep, batch_size=len(y_rep), epochs=5, shuffle=False, verbose=0)
    assert history[0] == pytest.approx(loss_rep, rel=1e-6) and history[-1] < history[0]
    for a, b in zip(weighted.get_weights(), repeated.get_weights(), strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_weighted_measures_equal_the_repeated_rows():
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score

    from problems.covid import Cases, scores

    x, y, counts = _tiny_rows()
    logits = np.array([0.5, -1.0, 0.2, -0.3])
    measured = scores(Cases(x, y, counts), logits, train_loss=0.0)
    y_rep, z_rep = np.repeat(y, counts), np.repeat(logits, counts)
    pred = (z_rep > 0).astype(int)
    assert measured["loss"] == pytest.approx(np.mean(np.logaddexp(0, z_rep) - y_rep * z_rep))
    assert measured["accuracy"] == pytest.approx(np.mean(pred == y_rep))
    assert measured["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_rep, pred))
    assert measured["roc_auc"] == pytest.approx(roc_auc_score(y_rep, z_rep))
    assert measured["confusion_matrix"] == confusion_matrix(y_rep, pred).tolist() == [[5, 1], [2, 3]]
    assert measured["predicted_yes"] == 4
