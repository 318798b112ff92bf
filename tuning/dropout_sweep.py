"""The dropout sweep (2018 3D, 2023 4F) as a keras-tuner search: one trial per rate of an explicit list.

keras-tuner's GridSearch would fit, but in 1.4.8 it cannot resume after an interruption (``KeyError``,
upstream #1055: it keeps its ordering outside the saved trials) and a ``Float`` grid drops its end
point (#1001). ``ExplicitListOracle`` proposes the first rate of the list that has no trial yet, so
its whole state is the saved trials: a killed sweep rerun with the same command retries the trial
that was running and goes on. ``SweepTuner`` runs ``executions_per_trial`` seeded fits per rate
(``--repeats``) and records their mean and standard deviation.
"""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from training import EVAL_BATCH_SIZE, set_seed, tuner_seed
from tuning.common import WORKER_TIMEOUT, ensure_success, open_resumable, run_search


class ExplicitListOracle(kt.Oracle):
    """Proposes the values of one hyperparameter in the order given, one trial each, then stops."""

    def __init__(self, name: str, values, **kwargs):
        super().__init__(max_trials=len(values), **kwargs)
        self.hp_name, self.values = name, list(values)

    def populate_space(self, trial_id):
        tried = {t.hyperparameters.values.get(self.hp_name) for t in self.trials.values()}
        for value in self.values:
            if value not in tried:
                return {"status": "RUNNING", "values": {self.hp_name: value}}
        return {"status": "STOPPED", "values": None}


class SweepHyperModel(kt.HyperModel):
    """The problem's own model at rate ``dropout``: ``build(p)`` makes it, ``fit(model, seed, callbacks)`` trains it."""

    def __init__(self, rates, build, fit):
        super().__init__(name="dropout_sweep")
        self.rates, self.make_model, self.train_model = list(rates), build, fit

    def build(self, hp):
        return self.make_model(hp.Choice("dropout", self.rates))

    def fit(self, hp, model, seed: int, callbacks=None):
        return self.train_model(model, seed, callbacks or [])


class SweepTuner(kt.Tuner):
    """Each execution of a trial seeds with ``seed + execution``, builds, trains and scores on the
    validation split; the trial reports the executions' mean (the objective) and standard deviation."""

    def __init__(self, *args, seed: int, val, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed, self.val = seed, val

    def run_trial(self, trial, callbacks=None, **_):
        scores = []
        for execution in range(self.executions_per_trial):
            run_callbacks = self._deepcopy_callbacks(callbacks or [])
            self._configure_tensorboard_dir(run_callbacks, trial, execution)  # one log per trial and execution
            keras.backend.clear_session()
            set_seed(self.seed + execution)
            model = self.hypermodel.build(trial.hyperparameters)
            self.hypermodel.fit(trial.hyperparameters, model, self.seed + execution, run_callbacks)
            scores.append(model.evaluate(*self.val, batch_size=EVAL_BATCH_SIZE, verbose=0))
        loss, acc = np.asarray(scores, dtype=float).T
        return {
            "val_accuracy": acc.mean(),
            "val_loss": loss.mean(),
            "val_accuracy_std": acc.std(),
            "val_loss_std": loss.std(),
        }


def sweep_search(
    rates,
    build,
    fit,
    val,
    repeats: int,
    seed: int,
    directory: Path,
    project: str,
    tensorboard: Path | None = None,
    verbose: int = 0,
    worker_timeout: float = WORKER_TIMEOUT,
    workers: tuple[list[str], int] | None = None,
) -> list[dict]:
    """Run (or resume) the sweep and return one row per rate, in the list's order.

    Args:
        rates: the dropout rates, exactly as the edition ran them.
        build: ``build(p)`` returns a compiled model at rate p.
        fit: ``fit(model, seed, callbacks)`` trains it (the problem's epochs, batch and data).
        val: (x, y) the trials are scored on.
        repeats: seeded executions per trial (``--repeats``).
        directory, project: where keras-tuner keeps the trials; the project name carries everything
            that changes the numbers, so a rerun resumes only an identical sweep.
        tensorboard: a folder for TensorBoard logs (one per trial and execution), or None.
        workers: (command, count) to spread the trials over worker processes (``run_search``), or None.
    """
    tuner = open_resumable(
        lambda: SweepTuner(
            oracle=ExplicitListOracle(
                "dropout", rates, objective=kt.Objective("val_accuracy", "max"), seed=tuner_seed(seed)
            ),
            hypermodel=SweepHyperModel(rates, build, fit),
            executions_per_trial=repeats,
            directory=str(directory),
            project_name=project,
            overwrite=False,
            seed=seed,
            val=val,
        ),
        Path(directory) / project,
    )
    run_search(tuner, tensorboard=tensorboard, verbose=verbose, worker_timeout=worker_timeout, workers=workers)
    ensure_success(tuner)
    by_rate = {t.hyperparameters.values["dropout"]: t for t in tuner.oracle.trials.values()}
    rows = []
    for p in rates:
        trial = by_rate.get(p)
        if trial is None or trial.status != "COMPLETED":
            continue  # a failed rate is left out of the table (its error is in the tuner folder)
        metric = trial.metrics.get_last_value
        rows.append(
            {
                "p": p,
                "val_loss": float(metric("val_loss")),
                "val_accuracy": float(metric("val_accuracy")),
                "val_loss_std": float(metric("val_loss_std")),
                "val_accuracy_std": float(metric("val_accuracy_std")),
                "runs": repeats,
                "dropout_layer": p < 1.0,
                "trial": trial.trial_id,
            }
        )
    return rows
