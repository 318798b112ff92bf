"""The depth-vs-width search: keras-tuner's Bayesian optimisation over how to spend a unit budget and
how long to train it.

The space is ``models.mlp.build_mlp_hp``: depth and shape, input and hidden dropout, Adam's rate and
its schedule, the augmentation (pixel shift, rotation, zoom), epochs and batch size. Trials are
scored on a validation split carved from the training set (keras-tuner's score: the trial's best
epoch); the test set is never seen. Trials are kept in ``directory`` and a rerun with the same
settings and space (``space_key``) resumes.

The oracle (``GuidedBayesianOracle``): keras-tuner's BayesianOptimization, with two additions.
Its first trial is the budget's hand-picked settings (``models.mlp.HAND_PICKED``), so the search
weighs them like any other; and it never hands out a configuration over the budget's cost cap
(``models.mlp.COST_CAP_TFLOP``): such a draw is replaced by a random one. (keras-tuner leaves
failed trials out of the Gaussian process, so it would propose the same refused point again and
again.) ``num_initial_points`` is a third of the trials: with the default 40, 13 random draws
(the hand-picked one among them), then 27 proposed by the Gaussian process.
"""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt

from models.budget import BudgetError, MLPBudget
from models.mlp import build_mlp_hp, check_cost, settings_from_values
from training import input_pipeline, tuner_seed
from tuning.common import (
    WORKER_TIMEOUT,
    completed_trials,
    data_key,
    describe_search,
    ensure_success,
    open_resumable,
    role,
    run_search,
    space_hash,
    trials_table,
)

SEARCH_TRIALS = 40
REDRAWS = 100  # random draws tried in place of a proposal over the cost cap


def initial_points(trials: int) -> int:
    """Random trials before the Gaussian process guides the search: a third of the budget, at least 3."""
    return max(3, trials // 3)


def first_trial_id(max_trials: int) -> str:
    """keras-tuner's id of a search's first trial (ids are zero-padded to the digits of ``max_trials``)."""
    return f"{0:0{len(str(max_trials))}d}"


class GuidedBayesianOracle(kt.oracles.BayesianOptimizationOracle):
    """BayesianOptimization that starts from ``first_values`` and only hands out values ``feasible``
    accepts (a proposal it refuses is replaced by a random draw, up to ``REDRAWS`` times)."""

    def __init__(self, *args, first_values: dict | None = None, feasible=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_values, self.feasible = dict(first_values or {}), feasible or (lambda values: True)

    def populate_space(self, trial_id):
        if not self.trials and self.first_values:
            values = {hp.name: hp.default for hp in self.hyperparameters.space}
            return {"status": "RUNNING", "values": {**values, **self.first_values}}
        response = super().populate_space(trial_id)
        for _ in range(REDRAWS):
            if response["status"] != "RUNNING" or self.feasible(response["values"]):
                break
            response = self._random_populate_space()
        return response


class MLPHyperModel(kt.HyperModel):
    """Builds a budget- and cap-respecting MLP (or refuses the trial); its ``fit`` trains it with the
    drawn augmentation, epochs and batch size."""

    def __init__(
        self,
        budget: MLPBudget,
        cap_tflop: float,
        fit_images: int,
        seed: int,
        epochs: int | None = None,
        image_shape=(28, 28),
        num_classes: int = 10,
    ):
        super().__init__(name="mlp")
        self.budget, self.cap_tflop, self.fit_images, self.seed = budget, cap_tflop, fit_images, seed
        self.epochs, self.image_shape, self.num_classes = epochs, tuple(image_shape), num_classes

    @property
    def input_dim(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def build(self, hp):
        try:
            return build_mlp_hp(
                hp, self.budget, self.fit_images, self.cap_tflop, self.epochs, self.input_dim, self.num_classes
            )
        except BudgetError as err:  # refused before training; FailedTrialError is never retried
            raise kt.errors.FailedTrialError(f"refused: {err}") from err

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        ds = input_pipeline(
            (x, y),
            hp.get("batch_size"),
            self.seed,
            hp.get("shift"),
            self.image_shape,
            hp.get("rotation"),
            hp.get("zoom"),
        )
        kwargs["epochs"] = self.epochs or hp.get("epochs")
        return model.fit(ds, validation_data=validation_data, shuffle=False, **kwargs)

    def cost(self, values: dict) -> float:
        """The estimated training cost of ``values`` in TFLOP (``models.mlp.training_tflop``)."""
        settings = settings_from_values(values, self.budget)
        return check_cost(settings, float("inf"), self.fit_images, self.input_dim, self.num_classes)

    def feasible(self, values: dict) -> bool:
        """Whether ``values`` train within the cost cap (the oracle asks before handing them out)."""
        return self.cost(values) <= self.cap_tflop


def space_key(hypermodel: MLPHyperModel) -> str:
    """A short hash of the search space ``hypermodel`` declares (every hyperparameter and its values)
    and of its cost cap: trials kept under another space are never resumed as this one's."""
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    return space_hash(hp, cap_tflop=hypermodel.cap_tflop)


def search_mlp(
    key: str,
    budget: MLPBudget,
    cap_tflop: float,
    first_values: dict,
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
    workers: tuple[list[str], int] | None = None,
    numerics: str = "",
):
    """Search ``budget`` and return ``(table, search)``.

    Args:
        key: the problem's budget key ('2C', '2D', '2E'), part of the project name.
        cap_tflop: the cost cap (``models.mlp.COST_CAP_TFLOP``).
        first_values: the first trial's values (the hand-picked settings).
        train, val: (x, y) arrays; val is carved from the training set.
        seed: seeds the oracle and every trial's data order and shifts (0 becomes 1 for the oracle).
        directory: where trials are kept; a rerun with the same key, seed, budget, space and data
            resumes.
        trials: the oracle's ``max_trials`` (default ``SEARCH_TRIALS``).
        epochs: train every trial this many epochs instead of the drawn number (quick looks, tests).
        image_shape: the images' (height, width), for the pixel shift of flattened inputs.
        tensorboard: a folder for TensorBoard logs (one per trial), or None.
        worker_timeout, workers: chief/worker mode (``tuning.common.run_search``).
        numerics: what fixes the trials' last digits besides the settings (``training.backend.numerics_key``),
            part of the project name: trials scored on another backend or other kernels are not resumed.

    Returns:
        table: every trial (pandas DataFrame, best first; ``cost_tflop`` added);
        search: the oracle, its budget, the best trial and the first (hand-picked) trial.

    Raises:
        WorkerFinished: this process was a distributed worker (the chief reports).
    """
    trials = trials or SEARCH_TRIALS
    hypermodel = MLPHyperModel(budget, cap_tflop, len(train[0]), seed, epochs, image_shape, train[1].shape[1])
    project = (
        f"mlp_{key}_seed{seed}_t{trials}_e{epochs or 'drawn'}_{numerics or 'any'}_"
        f"{space_key(hypermodel)}_{data_key(*train, *val)}"
    )
    tuner = open_resumable(
        lambda: kt.Tuner(
            oracle=GuidedBayesianOracle(
                objective="val_accuracy",
                max_trials=trials,
                num_initial_points=initial_points(trials),
                seed=tuner_seed(seed),
                max_consecutive_failed_trials=10,
                first_values=first_values,
                feasible=hypermodel.feasible,
            ),
            hypermodel=hypermodel,
            directory=str(directory),
            project_name=project,
            overwrite=False,
        ),
        Path(directory) / project,
    )
    # A worker's oracle is a client with no trials; only the chief (or a single process) counts them.
    reused = len(completed_trials(tuner)) if role() != "worker" else 0
    run_search(
        tuner,
        *train,
        validation_data=val,
        tensorboard=tensorboard,
        verbose=verbose,
        worker_timeout=worker_timeout,
        workers=workers,
    )
    ensure_success(tuner)
    table = trials_table(tuner)
    table["cost_tflop"] = [round(hypermodel.cost(values), 3) for values in table.to_dict("records")]
    return table, _search_record(tuner, table, trials, epochs, cap_tflop, reused)


def _search_record(tuner, table, trials: int, epochs: int | None, cap_tflop: float, reused: int) -> dict:
    """search.json's description of a finished MLP search: oracle, budget, best and first trial."""
    best = tuner.oracle.get_best_trials(1)[0]
    first = tuner.oracle.trials.get(first_trial_id(trials))
    return {
        **describe_search(tuner, len(table)),
        "oracle": "BayesianOptimization",  # keras-tuner's, first trial given, cap kept (GuidedBayesianOracle)
        "budget": f"BayesianOptimization, {trials} trials, the first {initial_points(trials)} random (the first of "
        f"them the hand-picked settings), then proposed by the Gaussian process; every trial trains "
        + (f"{epochs} epochs" if epochs else "its drawn epochs")
        + f"; cost cap {cap_tflop} TFLOP",
        "cost_cap_tflop": cap_tflop,
        "completed": int((table["status"] == "COMPLETED").sum()),
        "trials_reused": reused,
        "best_trial_id": best.trial_id,
        "best_values": dict(best.hyperparameters.values),
        "best_val_accuracy": float(best.score),
        "hand_picked_trial_id": first.trial_id if first is not None else None,
        "hand_picked_val_accuracy": float(first.score) if first is not None and first.score is not None else None,
    }
