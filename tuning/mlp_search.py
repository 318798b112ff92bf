"""The depth-vs-width search: keras-tuner's Bayesian optimisation over how to spend a unit budget.

The search space is ``models.mlp.build_mlp_hp`` (depth, shape, dropout, learning rate) plus the
pixel shift of the input pipeline, tuned in ``MLPHyperModel.fit``. Trials are scored on a
validation split carved from the training set; the test set is never seen. Trials are kept in
``tuner_dir`` and a rerun with the same seed resumes the search instead of starting over.

Note on the oracle: with these 6 hyperparameters keras-tuner's BayesianOptimization first draws
max(3 x 6, 3) = 18 random trials before its Gaussian process proposes any, so the default budget of
12 trials is, in effect, a seeded random search (that is how the stored settings in
``models.mlp.TUNED`` were found). Pass ``--trials`` above 18 for the Bayesian part to take over.
"""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt

from models.budget import MLPBudget
from models.mlp import build_mlp_hp, split_budget
from training import MLP_BATCH_SIZE, make_dataset, steps_per_epoch, tuner_seed
from tuning.common import ensure_success, open_resumable, trials_table

SEARCH_TRIALS = 12
SEARCH_EPOCHS = 8


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
        ds = make_dataset(x, y, batch_size=MLP_BATCH_SIZE, seed=self.seed, shift=shift, image_shape=self.image_shape)
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
):
    """Search ``budget`` and return ``(settings, table)``.

    Args:
        key: the problem's budget key ('2C', '2D', '2E'), part of the project name.
        train, val: (x, y) arrays; val is carved from the training set.
        seed: seeds the oracle (keras-tuner treats 0 as "no seed", so 0 becomes 1).
        directory: where trials are kept; a rerun with the same key and seed resumes.
        trials, epochs: search budget (defaults SEARCH_TRIALS, SEARCH_EPOCHS).
        image_shape: the images' (height, width), for the pixel shift of flattened inputs.

    Returns:
        settings: the best trial as ``build_mlp`` arguments plus ``shift``;
        table: every trial (pandas DataFrame), best first.
    """
    trials, epochs = trials or SEARCH_TRIALS, epochs or SEARCH_EPOCHS
    decay = epochs * steps_per_epoch(len(train[0]), MLP_BATCH_SIZE)
    project = f"mlp_{key}_seed{seed}_t{trials}_e{epochs}"
    tuner = open_resumable(
        lambda: kt.BayesianOptimization(
            MLPHyperModel(budget, decay, seed, image_shape, num_classes=train[1].shape[1]),
            objective="val_accuracy",
            max_trials=trials,
            seed=tuner_seed(seed),
            directory=str(directory),
            project_name=project,
            overwrite=False,
        ),
        Path(directory) / project,
    )
    tuner.search(*train, validation_data=val, epochs=epochs, verbose=verbose)
    ensure_success(tuner)
    best = tuner.get_best_hyperparameters(1)[0].values
    settings = {
        "hidden_units": split_budget(budget.max_hidden_units, best["hidden_layers"], best["shape"]),
        "dropout_input": best["dropout_input"],
        "dropout": round(best["dropout"], 2),
        "learning_rate": best["learning_rate"],
        "shift": best["shift"],
    }
    return settings, trials_table(tuner)
