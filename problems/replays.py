"""The write-ups' models replayed beside ours (``--replays``), so that a gap to a write-up can be split
into what the model does and what the setting does (Keras 3, the data split, chance).

A replay trains a model the problem set or a write-up defines with that model's own settings (its
optimizer with the original framework's defaults, its loss, batch size 32, 10 epochs, every training
image with the test set as validation, as the starter notebooks had it) under the run's seeds, through
the one train-and-score path (``training.record``). The starter sweeps replay the problem's dropout
sweep as the problem set ran it: the edition's starter with its Dropout layers at rate p, 1 epoch at
batch 32, scored on the test set. Every run is kept as a file under ``<tuner dir>/replays/``, named by
everything that changes its numbers, so a rerun reuses it and the report says so.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from problems.context import RunContext
from problems.report import atomic_write_text
from training.files import read_json_or_none
from training.record import RunRecord, gap_against_spread, sample_std

EPOCHS, BATCH_SIZE, SWEEP_EPOCHS = 10, 32, 1  # the starters' settings and the problem's sweep


@dataclass(frozen=True)
class Replay:
    """A model of the problem set or a write-up, as it was trained there.

    Attributes:
        key: its name in result.json and in the cache.
        model: what it is, for the table.
        factory: the name of its builder in ``models.cnn`` (takes the dropout rate).
        dropout: its dropout rate.
        training: its optimizer and loss, as the original ran them.
        reported: the test accuracy its source reported, or None.
        reported_by: who reported it.
    """

    key: str
    model: str
    factory: str
    dropout: float
    training: str
    reported: float | None = None
    reported_by: str = ""

    def build(self, dropout: float | None = None, **kwargs):
        import models.cnn

        return getattr(models.cnn, self.factory)(self.dropout if dropout is None else dropout, **kwargs)


REPLAYS = {
    "2018": [
        Replay(
            "starter_2018",
            "the course's 2018 starter CNN (the sample the write-up modified; its own model is not published)",
            "build_starter_cnn",
            0.2,
            "Adam (Keras defaults), cross-entropy",
        ),
        Replay(
            "final_2018",
            "a 2018 write-up's final CNN (Conv 50, Dense 100 + BN)",
            "build_cnn_2018_final",
            0.5,
            "RMSprop (Keras defaults), cross-entropy",
            0.9889,
            "that write-up",
        ),
    ],
    "2023": [
        Replay(
            "starter_2023",
            "the course's 2023 starter (the PyTorch notebook's CNN)",
            "build_starter_2023",
            0.5,
            "RMSprop with PyTorch's defaults (lr 0.01), cross-entropy on logits, PyTorch's initialisation",
            0.9521,
            "the notebook's published run (epoch 10)",
        ),
        Replay(
            "final_2023",
            "the 2023 write-up's final CNN as its text describes it (models.cnn.build_cnn_2023_final)",
            "build_cnn_2023_final",
            0.5,
            "RMSprop with PyTorch's defaults (lr 0.01), cross-entropy on logits, PyTorch's initialisation",
            0.9921,
            "the 2023 write-up",
        ),
    ],
}
STARTER = {"2018": REPLAYS["2018"][0], "2023": REPLAYS["2023"][0]}


def replay_data(ctx: RunContext):
    """Every training image for training and the test set as validation and test (the starters' setup)."""
    from problems.cnn import prepare

    train, _, test = prepare(ctx.mnist, ctx.seed, test_as_validation=True)
    return train, test


def _cache_path(ctx: RunContext, name: str, seed: int, epochs: int, data) -> Path:
    from training.backend import numerics_key
    from tuning.common import data_key

    key = f"{name}_seed{seed}_e{epochs}_{numerics_key(ctx.threads)}_{data_key(*data[0], *data[1])}"
    return Path(ctx.tuner_dir) / "replays" / f"{key}.json"


def cached_run(ctx: RunContext, name: str, build: Callable, seed: int, epochs: int, data) -> tuple[dict, bool]:
    """One seed of a replay: (its figures, whether they were read back from an earlier run)."""
    from training.record import train_and_score

    path = _cache_path(ctx, name, seed, epochs, data)
    kept = read_json_or_none(path)
    if kept is not None:
        return kept, True
    train, test = data
    record, _ = train_and_score(
        build, train, test, test, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, threads=ctx.threads, verbose=0
    )
    figures = _figures(record)
    atomic_write_text(path, json.dumps(figures) + "\n")
    return figures, False


def _figures(record: RunRecord) -> dict:
    found = record.figures()
    found["train_loss"] = record.history["loss"][-1]
    return found


def summarise(per_seed: list[dict]) -> dict:
    """Means and sample standard deviations (None for one seed) of the test figures and the training's
    (those ``per_seed`` has)."""
    found = {"seeds": [r["seed"] for r in per_seed]}
    for key in ("test_accuracy", "test_loss", "train_accuracy", "train_loss"):
        if key not in per_seed[0]:
            continue
        values = [r[key] for r in per_seed]
        found[key] = statistics.fmean(values)
        found[f"{key}_std"] = sample_std(values)
    return found


def run_replay(ctx: RunContext, replay: Replay, data, epochs: int) -> dict:
    """``replay`` trained for ``epochs`` once per seed of the run; its entry of result.json's ``replays``."""
    per_seed, reused = [], []
    for seed in ctx.seed_list:
        figures, was_reused = cached_run(ctx, replay.key, replay.build, seed, epochs, data)
        per_seed.append(figures)
        reused.append(was_reused)
        print(f"replay {replay.key} seed {seed}: test accuracy {figures['test_accuracy']:.4f}", flush=True)
    return {
        "key": replay.key,
        "model": replay.model,
        "settings": {"training": replay.training, "dropout": replay.dropout, "epochs": epochs, "batch_size": BATCH_SIZE,
                     "data": "every training image; the test set as validation"},
        "params": per_seed[0]["params"],  # every run's record counts them: no model built for it
        "reported_test_accuracy": replay.reported,
        "reported_by": replay.reported_by,
        **summarise(per_seed),
        "per_seed": per_seed,
        "reused_seeds": [s for s, r in zip(ctx.seed_list, reused, strict=True) if r],
    }  # fmt: skip


def run_sweep(ctx: RunContext, replay: Replay, rates, data, epochs: int, learning_rate: float | None = None) -> dict:
    """The edition's dropout sweep on ``replay``'s model (its Dropout layers at each rate), ``ctx.repeats``
    seeds a point, scored on the test set; ``learning_rate`` 0 replays a network that never updates."""
    kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
    name = replay.key + ("" if learning_rate is None else f"_lr{learning_rate:g}")
    seeds = [ctx.seed + k for k in range(ctx.repeats)]
    rows, reused = [], 0
    for p in rates:
        per_seed = []
        for seed in seeds:
            build = lambda p=p: replay.build(p, **kwargs)  # noqa: E731
            figures, was_reused = cached_run(ctx, f"{name}_p{p}", build, seed, epochs, data)
            per_seed.append(figures)
            reused += was_reused
        runs = [{k: f[k] for k in ("seed", "test_accuracy", "train_loss")} for f in per_seed]
        row = {"p": p, **summarise(per_seed), "runs": runs}
        rows.append(row)
        spread = row["test_accuracy_std"] or 0.0
        print(f"{name} p={p}: test accuracy {row['test_accuracy']:.4f} +- {spread:.4f}", flush=True)
    return {
        "key": f"{name}_sweep",
        "model": replay.model + (" never updated (learning rate 0)" if learning_rate == 0 else ""),
        "settings": {"training": replay.training if learning_rate != 0 else "learning rate 0: no update",
                     "epochs": epochs, "batch_size": BATCH_SIZE, "seeds": seeds},
        "sweep": rows,
        "reused_runs": reused,
    }  # fmt: skip


def comparison_rows(replays: list[dict], ours: dict, write_up: float | None) -> list[dict]:
    """One table: each model's reported figure, the same model replayed here and ours (mean ± std), and
    whether each gap exceeds the seed spread measured in this run."""
    rows = []
    theirs = [("the write-up's own model", None, write_up)] + [
        (r["model"], r, r["reported_test_accuracy"]) for r in replays if "sweep" not in r
    ]
    for model, replay, reported in theirs:
        row = {"model": model, "reported": reported, "replayed here": _mean_std(replay), "ours": _mean_std(ours)}
        if replay is not None and reported is not None:
            gap = replay["test_accuracy"] - reported
            row["replay - reported"] = f"{gap:+.4f}, " + gap_against_spread(gap, [replay["test_accuracy_std"]])
        elif replay is None:
            row["replay - reported"] = "not replayable: the write-up does not publish its model"
        if replay is not None:
            gap = ours["test_accuracy"] - replay["test_accuracy"]
            row["ours - replay"] = f"{gap:+.4f}, " + gap_against_spread(
                gap, [replay["test_accuracy_std"], ours.get("test_accuracy_std")]
            )
        elif reported is not None:
            gap = ours["test_accuracy"] - reported
            row["ours - replay"] = f"ours - reported: {gap:+.4f}, " + gap_against_spread(
                gap, [ours.get("test_accuracy_std")]
            )
        rows.append(row)
    return rows


def _mean_std(figures: dict | None) -> str:
    if figures is None:
        return ""
    std = figures.get("test_accuracy_std")
    seeds = len(figures.get("seeds", [])) or 1
    return f"{figures['test_accuracy']:.4f}" + (f" ± {std:.4f}" if std is not None else "") + f" ({seeds} seeds)"


def sweep_table(sweep: dict) -> list[dict]:
    """A replayed sweep as a report table: one row per rate."""

    def mean_std(row, key):
        std = row.get(f"{key}_std")
        return f"{row[key]:.4f}" + (f" ± {std:.4f}" if std is not None else "")

    return [
        {
            "p": r["p"],
            "test accuracy": mean_std(r, "test_accuracy"),
            "test loss": mean_std(r, "test_loss"),
            "training loss": mean_std(r, "train_loss"),
            "training accuracy": mean_std(r, "train_accuracy"),
        }
        for r in sweep["sweep"]
    ]


def _span(rows, key: str) -> str:
    values = [r[key] for r in rows]
    return f"{min(values):.2f}-{max(values):.2f}"


CHANCE_LINE = 0.2  # a run at or below this test accuracy learned nothing (chance is 0.10)


def _collapses(rows) -> str:
    """How many of a trained sweep's runs ended at chance (their per-seed figures, where kept)."""
    runs = [dict(r, p=row["p"]) for row in rows for r in row.get("runs", [])]
    if not runs:
        return ""
    failed = [r for r in runs if r["test_accuracy"] <= CHANCE_LINE]
    if not failed:
        return f"; none of its {len(runs)} runs ended at chance"
    where = ", ".join(f"p = {r['p']} seed {r['seed']}" for r in failed)
    # "not every rate" only where some rate had no run at chance: the write-up's sweep sat there at every rate.
    spared = len({r["p"] for r in failed}) < len(rows)
    return (
        f"; {len(failed)} of its {len(runs)} runs ended at chance ({where}: test accuracy "
        f"{_span(failed, 'test_accuracy')}, training loss {_span(failed, 'train_loss')})"
        + (", not every rate" if spared else ", at every rate")
    )


def broken_sweep_note(trained: dict, frozen: dict[str, dict], reported_val: dict, reported_loss: dict) -> str:
    """4F: the write-up's near-chance sweep beside the 2023 starter trained for its epoch and beside
    networks that never update (``frozen``: name -> sweep); names the one whose training loss is closest."""
    val, loss = list(reported_val.values()), list(reported_loss.values())
    reported_mean = statistics.fmean(loss)
    measured = {name: statistics.fmean(r["train_loss"] for r in sweep["sweep"]) for name, sweep in frozen.items()}
    closest = min(measured, key=lambda name: abs(measured[name] - reported_mean))
    never = "; ".join(
        f"the {name} gives test accuracy {_span(s['sweep'], 'test_accuracy')} and training loss "
        f"{_span(s['sweep'], 'train_loss')} (mean {measured[name]:.3f})"
        for name, s in frozen.items()
    )
    rows = trained["sweep"]
    return (
        "Why the 2023 write-up's sweep sits at chance, measured: trained for its one epoch (RMSprop, lr 0.01), "
        f"the 2023 starter reaches test accuracy {_span(rows, 'test_accuracy')} across "
        f"p = {rows[0]['p']}-{rows[-1]['p']} "
        f"(training loss {_span(rows, 'train_loss')}){_collapses(rows)}. "
        "Never updated (learning rate 0, which is what a new model per "
        f"rate trained by an optimizer still holding the first model's parameters amounts to): {never}. The "
        f"write-up reported validation accuracy {min(val):.2f}-{max(val):.2f} and training loss "
        f"{min(loss):.2f}-{max(loss):.2f} (mean {reported_mean:.3f}): the figures of a network that never trained, "
        f"closest to the {closest}."
    )


def replay_problem(ctx: RunContext, ours: dict, reported: dict, rates, epochs: int | None) -> dict:
    """The replays of ``ctx.edition``'s CNN problem beside ``ours`` (the run's metrics): each replayed
    model over the run's seeds, the starter's sweep over ``rates`` (2023: also never updated).

    Returns {"replays": result.json's list, "tables": report tables, "notes": observations, "sweeps":
    the sweeps by role, for the plot}.
    """
    data = replay_data(ctx)
    epochs = min(epochs, EPOCHS) if epochs else EPOCHS
    entries = [run_replay(ctx, replay, data, epochs) for replay in REPLAYS[ctx.edition]]
    sweeps = {"starter": run_sweep(ctx, STARTER[ctx.edition], rates, data, SWEEP_EPOCHS)}
    if ctx.edition == "2023":  # the write-up's sweep: what a network that never updates gives
        for replay, name in zip(REPLAYS["2023"], ("2023 starter", "2023 final model"), strict=True):
            sweeps[f"{name} never updated"] = run_sweep(ctx, replay, rates, data, SWEEP_EPOCHS, learning_rate=0.0)
    entries += sweeps.values()
    tables = {"against the write-ups": comparison_rows(entries, ours, reported.get("test_accuracy"))}
    tables.update({f"replayed sweep: {role}": sweep_table(s) for role, s in sweeps.items()})
    notes = [
        "Replays (--replays): the write-ups' models trained here with their own settings (every training image, "
        "the test set as validation, batch 32) under this run's seeds; the starter's dropout sweep as the problem "
        f"set ran it, {ctx.repeats} seed(s) a point, scored on the test set (problems/replays.py)."
    ]
    reused = sum(len(e.get("reused_seeds", [])) + e.get("reused_runs", 0) for e in entries)
    if reused:
        notes.append(
            f"{reused} replay run(s) were read back from an earlier run with the same seed, data, epochs, backend "
            "and threads (kept under the tuner folder): this run's wall time does not include them."
        )
    frozen = {role: s for role, s in sweeps.items() if role.endswith("never updated")}
    if frozen and isinstance(reported.get("sweep_val_accuracy"), dict):
        notes.append(
            broken_sweep_note(sweeps["starter"], frozen, reported["sweep_val_accuracy"], reported["sweep_train_loss"])
        )
    return {"replays": entries, "tables": tables, "notes": notes, "sweeps": sweeps}
