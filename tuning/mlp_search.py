"""The depth-vs-width search: keras-tuner's Bayesian optimisation over how to spend a unit budget.

The search space is ``models.mlp.build_mlp_hp`` (depth, shape, dropout, learning rate) plus the
pixel shift of the input pipeline, tuned in ``MLPHyperModel.fit``. Trials are scored on a
validation split carved from the training set; the test set is never seen. Trials are kept in
``tuner_dir`` and a rerun with the same seed resumes the search instead of starting over.

The oracle: keras-tuner's BayesianOptimization by default first draws max(3 x 6, 3) = 18 random
trials (6 hyperparameters) before its Gaussian process proposes any, so with 12 trials it would be
a random search. Here ``num_initial_points`` is a third of the trials, at least 3 (4 of the default
12), so the Gaussian process proposes the remaining trials. (The stored settings in
``models.mlp.TUNED`` came from an earlier 12-trial run that was all random draws; see its comment.)
In distributed mode (keras-tuner's ``KERASTUNER_*`` variables) the same call runs as chief or worker.
"""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt

from models.budget import MLPBudget
from models.mlp import build_mlp_hp, split_budget
from training import MLP_BATCH_SIZE, input_pipeline, steps_per_epoch, tuner_seed
from tuning.common import WORKER_TIMEOUT, describe_search, ensure_success, open_resumable, run_search, trials_table

SEARCH_TRIALS = 12
SEARCH_EPOCHS = 8


def initial_points(trials: int) -> int:
    """Random trials before the Gaussian process guides the search: a third of the budget, at least 3."""
    return max(3, trials // 3)


class MLPHyperModel(kt.HyperModel):
    """Builds a budget-respecting MLP; its ``fit`` also tunes the pixel shift of the training data."""

    def __init__(self, budget: MLPBudget, decay_steps: int, seed: int, image_shape=(28, 28), num_classes: int = 10):
        super().__init__(name="mlp")
        self.budget, self.decay_steps, self.seed = budget, decay_steps, seed
        self.image_shape, self.num_classes = tuple(image_shape), num_classes

    def build(self, hp):
        input_dim = self.image_shape[0] * self.image_shape[1]
        return build_mlp_hp(hp, self.budget, self.decay_steps, input_dim=input_dim, num_classes=self.num_classes)

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        shift = hp.Choice("shift", [0, 1, 2])
        ds = input_pipeline((x, y), MLP_BATCH_SIZE, self.seed, shift, self.image_shape)
        return model.fit(ds, validation_data=validation_data, shuffle=False, **kwargs)


def search_mlp(
    key: str,
    budget: MLPBudget,
    train,
    val,
    seed: int,
    directory: Path,
    trials: int | None = None,
    epochs: int | None = None,
    verbose: int = 1,
    image_shape=(28, 28),
    tensorboard: Path | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
):
    """Search ``budget`` and return ``(settings, table, search)``.

    Args:
        key: the problem's budget key ('2C', '2D', '2E'), part of the project name.
        train, val: (x, y) arrays; val is carved from the training set.
        seed: seeds the oracle (keras-tuner treats 0 as "no seed", so 0 becomes 1).
        directory: where trials are kept; a rerun with the same key and seed resumes.
        trials, epochs: search budget (defaults SEARCH_TRIALS, SEARCH_EPOCHS).
        image_shape: the images' (height, width), for the pixel shift of flattened inputs.
        tensorboard: a folder for TensorBoard logs (one per trial, with HParams), or None.
        worker_timeout: distributed mode: how long the chief waits for a silent worker.

    Returns:
        settings: the best trial as ``build_mlp`` arguments plus ``shift``;
        table: every trial (pandas DataFrame), best first;
        search: the oracle and its budget, for the report.

    Raises:
        WorkerFinished: this process was a distributed worker (the chief reports).
    """
    trials, epochs = trials or SEARCH_TRIALS, epochs or SEARCH_EPOCHS
    decay = epochs * steps_per_epoch(len(train[0]), MLP_BATCH_SIZE)
    project = f"mlp_{key}_seed{seed}_t{trials}_e{epochs}"
    tuner = open_resumable(
        lambda: kt.BayesianOptimization(
            MLPHyperModel(budget, decay, seed, image_shape, num_classes=train[1].shape[1]),
            objective="val_accuracy",
            max_trials=trials,
            num_initial_points=initial_points(trials),
            seed=tuner_seed(seed),
            directory=str(directory),
            project_name=project,
            overwrite=False,
        ),
        Path(directory) / project,
    )
    run_search(
        tuner,
        *train,
        validation_data=val,
        epochs=epochs,
        tensorboard=tensorboard,
        verbose=verbose,
        worker_timeout=worker_timeout,
    )
    ensure_success(tuner)
    best = tuner.get_best_hyperparameters(1)[0].values
    settings = {
        "hidden_units": split_budget(budget.max_hidden_units, best["hidden_layers"], best["shape"]),
        "dropout_input": best["dropout_input"],
        "dropout": round(best["dropout"], 2),
        "learning_rate": best["learning_rate"],
        "shift": best["shift"],
    }
    table = trials_table(tuner)
    search = {
        **describe_search(tuner, len(table)),
        "epochs_per_trial": epochs,
        "budget": f"BayesianOptimization, {trials} trials of {epochs} epochs, the first "
        f"{initial_points(trials)} random, then guided by the Gaussian process",
        "best_val_accuracy": float(tuner.oracle.get_best_trials(1)[0].score),
    }
    return settings, table, search
