"""2023 section 2, inside a neural network: the COVID-19 data (2B), a linear network (2C), and a
two-layer linear network (2D) that collapses to one linear map.

The story of 2C/2D: load and clean the CDC data (data_prep/covid.py), split it once into train
and test, stratified on death_yn so the few deaths land on both sides, train for a fixed number of
epochs (no validation split: with 6 deaths there is nothing to validate on, and nothing is chosen
on the test split), then score the test split once beside a constant "No" predictor. Accuracy is
near 1 for any model that says "No", so balanced accuracy, ROC AUC and the confusion matrix carry
the information.
"""

from __future__ import annotations

import numpy as np

from data_prep.covid import CovidData, load_covid
from data_prep.errors import DataError
from models.linear import HIDDEN_UNITS, LEARNING_RATE
from problems.context import RunContext
from problems.report import atomic_write_text, model_summary, pyplot, save_figure
from training import set_seed

TEST_FRACTION = 0.3  # with 6 deaths, stratification puts 2 in test and 4 in train (0.2 would leave 1 in test)
# Fixed in advance, not chosen on the test split. The training loss still creeps down at 30 epochs, towards
# the unpenalised logistic optimum (reported beside), which overfits 4 training deaths: longer is worse on test.
EPOCHS = 30
BATCH_SIZE = 64
MODEL_NAMES = {
    "linear_1": "2C linear (1 Dense)",
    "linear_2": "2D linear (2 Dense)",
    "optimum": "logistic optimum (sklearn, no penalty)",
    "constant_no": 'constant "No"',
}


def load(ctx: RunContext, encoding: str) -> CovidData:
    """The cleaned data: ``--covid-csv`` if given, else the shipped extract (checksummed)."""
    return load_covid(ctx.data_dir, ctx.covid_csv, encoding=encoding)


# ---------------------------------------------------------------------------------------- 2B


def run_data(ctx: RunContext, encoding: str = "onehot") -> dict:
    """2B: clean and encode; report rows before/after, class counts, columns and categories."""
    data = load(ctx, encoding)
    s = data.summary
    print(f"schema: {s['schema']}")
    print(
        f"rows: {s['rows_before']} read, {s['rows_after']} kept, {s['rows_dropped']} dropped (death_yn Missing/Unknown)"
    )
    print(f"death_yn before: {s['death_yn_before']}; after: {s['death_yn_after']}")
    print(f"date columns dropped: {', '.join(s['date_columns_dropped']) or 'none'}")
    for column, counts in s["categories"].items():
        print(f"  {column:26s} {counts}")
    print(f"encoded: x {data.x.shape} {data.x.dtype} ({encoding}), y {data.y.shape} with {int(data.y.sum())} deaths")

    plt = pyplot()
    columns = list(s["categories"])
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    panels = [("death_yn (after cleaning)", s["death_yn_after"])] + [(c, s["categories"][c]) for c in columns]
    for ax, (title, counts) in zip(axes.flat, panels, strict=True):
        labels = [str(k)[:22] for k in counts]
        values = list(counts.values())[::-1]
        bars = ax.barh(labels[::-1], values, color="tab:red" if title.startswith("death") else "tab:blue")
        ax.bar_label(bars, fontsize=7, padding=2)
        ax.set_xscale("log")  # 6 deaths beside 5,316 survivors: a linear axis hides the small classes
        ax.set_xlim(0.8, max(values) * 4)  # bars start at 1, not at the smallest count, and leave room for labels
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"{s['rows_after']} cases after cleaning: counts per category (log scale)")
    fig.tight_layout()
    plot = save_figure(fig, ctx.folder / "category_counts.png")

    codes = {c: {v: i for i, v in enumerate(counts)} for c, counts in s["categories"].items()}
    after = s["death_yn_after"]
    headline = (
        f"{s['rows_before']} rows -> {s['rows_after']} (death_yn No {after['No']}, Yes {after['Yes']}); "
        f"{len(s['date_columns_dropped'])} date columns dropped; {len(columns)} columns -> {data.x.shape[1]} "
        f"{encoding} features"
    )
    return {
        "metrics": {k: v for k, v in s.items() if k != "categories"} | {"feature_shape": list(data.x.shape)},
        "categories": s["categories"],
        "integer_codes": codes,
        "feature_names": data.feature_names,
        "hyperparameters": {"encoding": encoding},
        "headline": headline,
        "plots": [plot],
        "data": data.source,
        "notes": [
            f"Kept {s['rows_after']} of {s['rows_before']} rows: only {after['Yes']} deaths, "
            f"{after['Yes'] / s['rows_after']:.2%} of the cases, so a model that always says No is "
            f"{after['No'] / s['rows_after']:.2%} accurate.",
            "Missing and Unknown stay as categories of their own in every feature column (blank cells read as "
            "Missing), as the write-up did, so no further rows are lost.",
            f"Encoding {encoding}: one-hot by default because 2C/2D are linear and an integer code would impose an "
            "order on nominal values; integer_codes gives the write-up's codes (encoding='codes').",
        ],
    }


# ---------------------------------------------------------------------------------- 2C, 2D


def split(data: CovidData, seed: int):
    """One stratified train/test split, seeded. Refuses data with fewer than 2 of either class."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(data.y, minlength=2)
    if counts.min() < 2:
        raise DataError(
            f"{data.source}: after cleaning {counts[1]} deaths and {counts[0]} survivors; a stratified "
            "train/test split needs at least 2 of each"
        )
    x_train, x_test, y_train, y_test = train_test_split(
        data.x, data.y, test_size=TEST_FRACTION, stratify=data.y, random_state=seed
    )
    print(f"train {x_train.shape} with {y_train.sum()} deaths, test {x_test.shape} with {y_test.sum()} deaths")
    return (x_train, y_train), (x_test, y_test)


def balanced_weights(y: np.ndarray) -> dict[int, float]:
    """Class weights n / (2 n_c): each class contributes half of the loss."""
    counts = np.bincount(y, minlength=2)
    return {c: float(len(y) / (2 * counts[c])) for c in (0, 1)}


def bce(y: np.ndarray, logits: np.ndarray) -> float:
    """Mean binary cross-entropy of logits, in float64 (the same quantity as Keras' from_logits loss)."""
    z = np.asarray(logits, dtype="float64").ravel()
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def scores(y: np.ndarray, logits: np.ndarray, train_loss: float) -> dict:
    """Test-split measures of one model's scores (logits); predicted Yes where the logit > 0.

    ``loss`` is the unweighted mean cross-entropy on the test split; ``train_loss`` the same on the
    training split at the final weights (not Keras' running mean over the last epoch)."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score

    z = np.asarray(logits, dtype="float64").ravel()
    pred = (z > 0).astype(int)
    return {
        "train_loss": float(train_loss),
        "loss": bce(y, z),
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "roc_auc": float(roc_auc_score(y, z)),
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(),  # rows true No/Yes, cols predicted
        "predicted_yes": int(pred.sum()),
    }


def constant_no(y_train: np.ndarray, y_test: np.ndarray) -> tuple[dict, np.ndarray]:
    """The constant predictor: "No" for everyone, scored with the training base rate as its
    probability (the best constant for cross-entropy; probability 0 would make the loss infinite)."""
    rate = float(y_train.mean())
    logit = np.log(rate / (1 - rate))
    logits = np.full(len(y_test), logit)
    return scores(y_test, logits, bce(y_train, np.full(len(y_train), logit))) | {"probability_yes": rate}, logits


def logistic_optimum(train_split, test_split, class_weight: bool) -> tuple[dict, np.ndarray]:
    """The minimum of the training loss both linear networks descend towards: unpenalised logistic
    regression (convex, so one optimum for the function class), fitted to convergence by sklearn."""
    from sklearn.linear_model import LogisticRegression

    (x, y), (x_test, y_test) = train_split, test_split
    fitted = LogisticRegression(C=np.inf, max_iter=10_000, tol=1e-10, class_weight="balanced" if class_weight else None)
    fitted.fit(x, y)
    logits = fitted.decision_function(x_test)
    extra = {"max_abs_weight": float(np.abs(fitted.coef_).max()), "iterations": int(fitted.n_iter_[0])}
    return scores(y_test, logits, bce(y, fitted.decision_function(x))) | extra, logits


def train(name: str, builder, train_split, epochs: int, class_weight: bool, seed: int, verbose: int):
    """Seed, build and fit one model; the same seed gives 2C the same weights in the 2C and 2D runs."""
    set_seed(seed)
    model = builder()
    x, y = train_split
    weights = balanced_weights(y) if class_weight else None
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, class_weight=weights, shuffle=True, verbose=verbose)
    print(f"{MODEL_NAMES[name]}: final training loss {history.history['loss'][-1]:.5f}")
    return model, history.history


def table(results: dict) -> list[str]:
    """A markdown table: one row per model, the test split's measures side by side."""
    lines = [
        "| model | train loss | test loss (BCE) | accuracy | balanced accuracy | ROC AUC "
        "| confusion [[TN, FP], [FN, TP]] |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {MODEL_NAMES[name]} | {r['train_loss']:.5f} | {r['loss']:.5f} | {r['accuracy']:.4f} "
            f"| {r['balanced_accuracy']:.4f} "
            f"| {r['roc_auc']:.4f} | {r['confusion_matrix']} |"
        )
    return lines


def plot_curves(histories: dict, floor: float, test_y: np.ndarray, logits: dict, title: str, path) -> str:
    """Training loss per epoch beside the optimum's (left) and the test split's ROC curves (right)."""
    from sklearn.metrics import roc_curve

    plt = pyplot()
    fig, (ax_loss, ax_roc) = plt.subplots(1, 2, figsize=(11, 4))
    for name, hist in histories.items():
        ax_loss.plot(np.arange(1, len(hist["loss"]) + 1), hist["loss"], label=MODEL_NAMES[name])
    ax_loss.axhline(floor, color="gray", linestyle="--", label=MODEL_NAMES["optimum"])
    ax_loss.set(xlabel="epoch", ylabel="training loss (BCE, Keras' epoch mean)", yscale="log", title="training loss")
    for name, z in logits.items():
        fpr, tpr, _ = roc_curve(test_y, np.ravel(z))
        ax_roc.plot(fpr, tpr, drawstyle="steps-post", label=MODEL_NAMES[name])
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title=f"test ROC ({test_y.sum()} deaths)")
    for ax in (ax_loss, ax_roc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def _observations(results: dict, split_info: dict) -> list[str]:
    const, best = results["constant_no"], results["optimum"]
    deaths = split_info["train_deaths"] + split_info["test_deaths"]
    notes = [
        f"The stratified split put {split_info['test_deaths']} of the {deaths} deaths in the test split "
        f"({split_info['test_rows']} rows) and {split_info['train_deaths']} in train "
        f"({split_info['train_rows']} rows).",
        f'A constant "No" (probability = the training base rate) scores accuracy {const["accuracy"]:.4f}, balanced '
        f"accuracy 0.5 and test loss {const['loss']:.5f} on the same split: accuracy is no evidence of learning here.",
        f"The unpenalised logistic optimum (the minimum of the same training loss over every linear model) reaches "
        f"train loss {best['train_loss']:.5f} with weights up to {best['max_abs_weight']:.1f} and test loss "
        f"{best['loss']:.5f}, "
        + (
            f"worse than the constant's: fitting {split_info['train_deaths']} training deaths closely does not "
            "carry over to unseen cases."
            if best["loss"] > const["loss"]
            else "better than the constant's: the features carry signal a linear model can use."
        ),
    ]
    for name in ("linear_1", "linear_2"):
        if name not in results:
            continue
        r = results[name]
        caught = r["confusion_matrix"][1][1]
        notes.append(
            f"{MODEL_NAMES[name]}: train loss {r['train_loss']:.5f}, test loss {r['loss']:.5f} (constant "
            f"{const['loss']:.5f}); predicts Yes for {r['predicted_yes']} test cases, catching {caught} of "
            f"{split_info['test_deaths']} deaths; ROC AUC {r['roc_auc']:.3f} (0.5 = no ranking; with "
            f"{split_info['test_deaths']} test deaths it rests on {split_info['test_deaths']} ranks)."
        )
    return notes


def _fit_models(ctx: RunContext, encoding: str, class_weight: bool, builders: dict):
    """Load, split, and fit each of ``builders`` (name -> n_features -> model) from the same seed."""
    data = load(ctx, encoding)  # validation first: a bad CSV raises before the report folder exists
    train_split, test_split = split(data, ctx.seed)
    epochs = ctx.epochs or EPOCHS
    fitted = {}
    for name, builder in builders.items():
        model, history = train(
            name, lambda b=builder: b(data.x.shape[1]), train_split, epochs, class_weight, ctx.seed, ctx.verbose
        )
        logits = model.predict(test_split[0], verbose=0).ravel()
        train_loss = bce(train_split[1], model.predict(train_split[0], verbose=0))
        fitted[name] = (model, history, logits, scores(test_split[1], logits, train_loss))
    return data, train_split, test_split, epochs, fitted


def _report(ctx, data, train_split, test_split, epochs, fitted, encoding, class_weight, extra_hp) -> dict:
    """Score the baselines beside the fitted models; write the table and the plot; the common result keys."""
    optimum, optimum_logits = logistic_optimum(train_split, test_split, class_weight)
    const, const_logits = constant_no(train_split[1], test_split[1])
    results = {name: f[3] for name, f in fitted.items()} | {"optimum": optimum, "constant_no": const}
    rows = table(results)
    print("\n".join(rows))
    atomic_write_text(ctx.folder / "comparison.md", "\n".join(rows) + "\n")
    plot = plot_curves(
        {name: f[1] for name, f in fitted.items()},
        optimum["train_loss"],
        test_split[1],
        {name: f[2] for name, f in fitted.items()} | {"optimum": optimum_logits, "constant_no": const_logits},
        f"{ctx.edition} {ctx.problem_id}: linear networks on death_yn ({epochs} epochs)",
        ctx.folder / "loss_and_roc.png",
    )
    split_info = {
        "train_rows": len(train_split[1]),
        "train_deaths": int(train_split[1].sum()),
        "test_rows": len(test_split[1]),
        "test_deaths": int(test_split[1].sum()),
    }
    s = data.summary
    return {
        "metrics": results,
        "table": rows,
        "history": {name: [float(v) for v in f[1]["loss"]] for name, f in fitted.items()},
        "plots": [plot],
        "notes": _observations(results, split_info),
        "hyperparameters": {
            "encoding": encoding,
            "n_features": data.x.shape[1],
            "loss": "binary cross-entropy on the logit (from_logits=True); accuracy thresholds the logit at 0",
            "optimizer": f"Adam, learning rate {LEARNING_RATE}",
            "epochs": epochs,
            "batch_size": BATCH_SIZE,
            "class_weight": balanced_weights(train_split[1]) if class_weight else "off (every case weighs 1)",
            "split": f"stratified on death_yn, test fraction {TEST_FRACTION}, random_state = seed {ctx.seed}",
            **extra_hp,
        },
        "split": split_info,
        "cleaning": {k: s[k] for k in ("schema", "rows_before", "rows_after", "death_yn_before", "death_yn_after")},
        "feature_names": data.feature_names,
        "epochs": epochs,
        "data": data.source,
    }


def _headline(result: dict, results: dict, split_info: dict) -> str:
    const = results["constant_no"]
    return (
        f"test loss {result['loss']:.5f}, accuracy {result['accuracy']:.4f}, "
        f"balanced {result['balanced_accuracy']:.3f}, "
        f"ROC AUC {result['roc_auc']:.3f}, {result['confusion_matrix'][1][1]}/{split_info['test_deaths']} test deaths "
        f'caught (constant "No": loss {const["loss"]:.5f}, accuracy {const["accuracy"]:.4f})'
    )


def run_linear(ctx: RunContext, encoding: str = "onehot", class_weight: bool = False) -> dict:
    """2C: one Dense layer, no activation (logistic regression on the logit), beside the constant "No"
    and the logistic optimum."""
    from models.linear import build_linear_1

    data, train_split, test_split, epochs, fitted = _fit_models(
        ctx, encoding, class_weight, {"linear_1": build_linear_1}
    )
    model = fitted["linear_1"][0]
    out = _report(ctx, data, train_split, test_split, epochs, fitted, encoding, class_weight, {})
    weights, bias = (np.asarray(v).ravel() for v in model.layers[0].get_weights())
    return out | {
        "headline": _headline(out["metrics"]["linear_1"], out["metrics"], out["split"]),
        "weights": dict(zip(data.feature_names, weights.round(4).tolist(), strict=True)) | {"bias": float(bias[0])},
        "params": model.count_params(),
        "model_summary": model_summary(model),
    }


def collapse_check(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Compare the 2-layer model with the single map ``x @ (W1 @ W2) + (b1 @ W2 + b2)`` on ``x``."""
    from models.linear import collapse_linear_2

    w, b = collapse_linear_2(model)
    single = (x.astype("float64") @ w + b).ravel()
    layered = model.predict(x, verbose=0).ravel()
    return {
        "rows": len(x),
        "max_abs_logit_difference": float(np.max(np.abs(single - layered))),
        "loss_two_layer": bce(y, layered),
        "loss_single_map": bce(y, single),
        "single_map_shape": list(w.shape),
    }


def run_linear2(
    ctx: RunContext, encoding: str = "onehot", class_weight: bool = False, hidden_units: int = HIDDEN_UNITS
) -> dict:
    """2D: two Dense layers with no activation between, beside 2C (retrained on the same split from the
    same seed, so it matches the 2C run), the constant "No" and the logistic optimum; checks that the
    two layers are one linear map."""
    from models.linear import build_linear_1, build_linear_2

    data, train_split, test_split, epochs, fitted = _fit_models(
        ctx,
        encoding,
        class_weight,
        {"linear_2": lambda n: build_linear_2(n, hidden_units), "linear_1": build_linear_1},
    )
    model2 = fitted["linear_2"][0]
    out = _report(
        ctx, data, train_split, test_split, epochs, fitted, encoding, class_weight, {"hidden_units": hidden_units}
    )
    collapse = collapse_check(model2, *test_split)
    probs = {name: 1 / (1 + np.exp(-fitted[name][2].astype("float64"))) for name in ("linear_1", "linear_2")}
    collapse["max_abs_test_probability_difference_2c_vs_2d"] = float(
        np.max(np.abs(probs["linear_1"] - probs["linear_2"]))
    )
    print(
        f"collapse: max |2-layer logit - single-map logit| = {collapse['max_abs_logit_difference']:.2e} on "
        f"{collapse['rows']} test rows; loss {collapse['loss_two_layer']:.6f} vs {collapse['loss_single_map']:.6f}"
    )
    r1, r2 = out["metrics"]["linear_1"], out["metrics"]["linear_2"]
    notes = out["notes"] + [
        f"The 2-layer network is the single linear map W = W1@W2 (shape {collapse['single_map_shape']}), "
        f"b = b1@W2+b2: on the {collapse['rows']} test rows their logits differ by at most "
        f"{collapse['max_abs_logit_difference']:.2e} (float32 rounding) and their losses are "
        f"{collapse['loss_two_layer']:.6f} and {collapse['loss_single_map']:.6f}. So 2D can only reach losses a "
        "1-layer model can reach: the same training-loss minimum (the logistic optimum).",
        f"After {epochs} epochs 2D's train loss is {r2['train_loss']:.5f} vs 2C's {r1['train_loss']:.5f}, test loss "
        f"{r2['loss']:.5f} vs {r1['loss']:.5f}; test probabilities differ by at most "
        f"{collapse['max_abs_test_probability_difference_2c_vs_2d']:.2e}. Any gap is optimisation, not capacity: "
        "the same function class, reached along different gradient paths (the product W1@W2 changes the "
        "effective step sizes), both heading for the same optimum.",
    ]
    return out | {
        "metrics": out["metrics"] | {"collapse": collapse},
        "headline": _headline(r2, out["metrics"], out["split"])
        + f"; 2C test loss {r1['loss']:.5f}; collapse max diff {collapse['max_abs_logit_difference']:.1e}",
        "notes": notes,
        "params": model2.count_params(),
        "model_summary": model_summary(model2),
    }
