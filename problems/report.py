"""Writing results: one ``result.json`` per run, its plots, and the edition's ``summary.md``.

Every write goes to a temporary file in the same folder and is then renamed over the target, so a
killed run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path

from problems.registry import EDITIONS, valid_ids
from training.files import atomic_write_bytes, atomic_write_text  # noqa: F401  (the problems import them from here)

RESULT_FILE = "result.json"
REPORT_FILE = "report.md"
SUMMARY_FILE = "summary.md"
REQUIRED_KEYS = (
    "id",
    "edition",
    "title",
    "metrics",
    "reported",
    "target",
    "passed",
    "params",
    "model_summary",
    "hyperparameters",
    "seed",
    "versions",
    "wall_seconds",
    "epochs",
    "date",
    "git_commit",
)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on servers and CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def model_summary(model) -> str:
    """Keras' model.summary() as text, for result.json, with the parameters counted as the problems'
    limits count them: after training Keras adds the optimizer's state to "Total params" (the 3D
    model's 422,314 showed as 1,266,047), so that line is rewritten and the optimizer's own dropped."""
    import io

    buf = io.StringIO()
    model.summary(print_fn=lambda line, **_: buf.write(line + "\n"))
    lines = []
    for line in buf.getvalue().splitlines():
        if line.strip().startswith("Optimizer params:"):
            continue
        if line.strip().startswith("Total params:"):
            line = f" Total params: {model.count_params():,} (the optimizer's state is not counted)"
        lines.append(line)
    return "\n".join(lines) + "\n"


def save_figure(fig, path: str | Path) -> str:
    """Save a matplotlib figure as PNG atomically and close it; returns the file name."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path).name


def plot_history(history, title: str, path) -> str:
    """Training and validation loss and accuracy per epoch, side by side; returns the file name."""
    plt = pyplot()

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = range(1, len(history["loss"]) + 1)
    for key, label in (("", "train"), ("val_", "validation")):
        ax_loss.plot(epochs, history[key + "loss"], label=label)
        ax_acc.plot(epochs, history[key + "accuracy"], label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0.95, 1.0))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return save_figure(fig, path)


def evaluate_targets(metrics: dict, target: dict) -> bool | None:
    """True when every target metric is reached (>=); None when the problem sets no target."""
    if not target:
        return None
    return all(metrics.get(k) is not None and metrics[k] >= v for k, v in target.items())


def write_result(out_dir: str | Path, result: dict) -> Path:
    """Write ``out_dir/<edition>/<id>/result.json`` atomically and refresh the edition's summary.

    ``out_dir`` is the reports root for MNIST, or ``<root>/<data set name>`` for another data set."""
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ValueError(f"result for {result.get('id')} lacks {missing}")
    folder = Path(out_dir) / result["edition"] / result["id"]
    path = folder / RESULT_FILE
    atomic_write_text(path, json.dumps(result, indent=2, sort_keys=False, default=_jsonable) + "\n")
    atomic_write_text(folder / REPORT_FILE, render_report(json.loads(path.read_text())))
    write_summary(Path(out_dir) / result["edition"])
    return path


def _tables(value, name: str = "", depth: int = 0):
    """(name, rows) for every list of dicts inside ``value`` (two levels deep): the sweeps and tables."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        yield name, value
    elif isinstance(value, dict) and depth < 2:
        for key, sub in value.items():
            yield from _tables(sub, f"{name} / {key}" if name else key, depth + 1)


def _markdown_table(rows: list[dict]) -> list[str]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return lines


def render_report(result: dict) -> str:
    """A person's view of one result.json: measured beside reported and target, notes, tables, plots."""
    other = ", ".join(f"{e} {i}" for e, i in result.get("ids", {}).items() if e != result["edition"])
    passed = {True: "reached", False: "**missed**", None: "no target"}[result.get("passed")]
    note = result.get("not_comparable")  # another data set: the write-ups' figures and targets are MNIST's
    lines = [
        f"# {result['edition']} {result['id']}: {result['title']}",
        "",
        f"Generated from `result.json`; do not edit. Same implementation as: {other or 'none'}. "
        f"Seed {result['seed']}, {result.get('wall_seconds', 0):.0f} s, {result.get('date', '')}, "
        f"commit {result.get('git_commit')}, {backend_text(result)}.",
        "",
        f"- **Measured:** {_measured(result)}",
        f"- **Reported by the write-up:** {note or _fmt(result.get('reported')) or 'nothing'}",
        f"- **Target:** {note or (_fmt(result.get('target')) or 'none') + f' ({passed})'}",
    ]
    if result.get("data"):
        lines.append(f"- **Data:** {result['data']}")
    if result.get("notes"):
        lines += ["", "## Observations", ""] + [f"- {note}" for note in result["notes"]]
    if len(result.get("per_seed") or []) > 1:
        lines += ["", "## Per seed", ""] + _markdown_table(result["per_seed"])
    for name, rows in _tables(result.get("metrics", {})):
        lines += ["", f"## {name}", ""] + _markdown_table(rows)
    if result.get("hyperparameters"):
        lines += ["", "## Settings", ""] + [f"- {k}: {_fmt(v)}" for k, v in result["hyperparameters"].items()]
    if result.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in result["plots"]]
    if result.get("model_summary"):
        lines += ["", "## Model", "", "```text", result["model_summary"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def rebuild_reports(out_dir: str | Path) -> int:
    """Re-render every report.md and summary.md under ``out_dir`` from the result.json files: MNIST's
    ``<edition>/<id>/`` and other data sets' ``<data set>/<edition>/<id>/``."""
    paths = sorted(Path(out_dir).glob(f"*/*/{RESULT_FILE}")) + sorted(Path(out_dir).glob(f"*/*/*/{RESULT_FILE}"))
    for path in paths:
        atomic_write_text(path.with_name(REPORT_FILE), render_report(json.loads(path.read_text())))
    for edition_dir in sorted({p.parent.parent for p in paths}):
        write_summary(edition_dir)
    return len(paths)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _fmt(value) -> str:
    if value is None or value == {}:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)


def _measured(result: dict) -> str:
    """``test accuracy 0.9858 ± 0.0010, loss 0.0444 ± 0.0021 (3 seeds)``, or the headline of a problem
    that measures no accuracy. One seed: no ± (no spread was measured)."""
    metrics = result.get("metrics", {})
    if "test_accuracy" not in metrics:
        return result.get("headline", "")
    seeds = len(metrics.get("seeds", [])) or 1

    def figure(key: str) -> str:
        std = metrics.get(f"{key}_std")
        return (
            f"{metrics[key]:.4f}" + (f" ± {std:.4f}" if std is not None else "") if metrics.get(key) is not None else ""
        )

    return f"test accuracy {figure('test_accuracy')}, loss {figure('test_loss')}" + (
        f" (mean ± std over {seeds} seeds)" if seeds > 1 else ""
    )


def backend_text(result: dict) -> str:
    """``jax 0.10.2, one XLA CPU thread (...)``: the backend a result ran on (older results: unrecorded)."""
    backend = result.get("backend")
    if not backend:
        return "backend not recorded"
    text = f"{backend['name']} {backend['version']}, {backend['threads_meaning']}"
    return text + (f"; XLA_FLAGS {backend['xla_flags']}" if backend.get("xla_flags") else "")


def write_summary(edition_dir: str | Path) -> Path:
    """Rebuild ``summary.md``: one row per problem run so far in this edition."""
    edition_dir = Path(edition_dir)
    rows = []
    for path in sorted(edition_dir.glob(f"*/{RESULT_FILE}")):
        try:
            rows.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable file is reported by its own rerun, not here
    order = {pid: i for i, pid in enumerate(valid_ids(edition_dir.name))} if edition_dir.name in EDITIONS else {}
    rows.sort(key=lambda r: (order.get(r["id"], len(order)), r["id"]))  # the problem set's order
    datasets = sorted({r["dataset"] for r in rows if r.get("dataset")})
    on = f" on the data set {', '.join(repr(d) for d in datasets)}" if datasets else ""
    lines = [
        f"# Edition {edition_dir.name}{on}: results so far",
        "",
        "Generated by `python main.py`; do not edit. Each row links its `result.json`."
        + (" The write-ups' figures and targets are for MNIST, so none is shown as this data set's." if on else ""),
        "",
        "| id | problem | measured | reported (write-up) | target | passed | seed | backend | wall s | date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        passed = {True: "yes", False: "**no**", None: ""}[r.get("passed")]
        reported, target = (r.get("not_comparable") or _fmt(r.get(k)) for k in ("reported", "target"))
        lines.append(
            f"| [{r['id']}]({r['id']}/{RESULT_FILE}) | {r['title']} | {_measured(r)} | {reported} "
            f"| {target} | {passed} | {r.get('seed')} | {(r.get('backend') or {}).get('name', '')} "
            f"| {r.get('wall_seconds', 0):.0f} "
            f"| {r.get('date', '')[:10]} |"
        )
    path = edition_dir / SUMMARY_FILE
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def plot_best_so_far(table, title: str, path, guided_from: int | None = None) -> str:
    """Each trial's validation accuracy and the best so far against the trial number; with
    ``guided_from`` (BayesianOptimization's ``num_initial_points``) a line marks where the random
    draws end and the guided trials begin. Returns the file name."""
    from matplotlib.ticker import MaxNLocator

    from tuning.common import best_so_far

    plt = pyplot()
    rows = best_so_far(table)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    done = [r for r in rows if r["score"] is not None]
    ax.scatter([r["trial"] for r in done], [r["score"] for r in done], s=18, color="tab:gray", label="trial")
    ax.step([r["trial"] for r in rows], [r["best_so_far"] for r in rows], where="post", label="best so far")
    if guided_from is not None:
        ax.axvline(guided_from - 0.5, color="tab:orange", linestyle="--", label="guided from here")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="trial number (order run)", ylabel="validation accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
