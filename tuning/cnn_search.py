"""``--tune`` for the CNN (2018 3D, 2023 4F): keras-tuner's Hyperband over ``models.cnn.build_cnn_hp``.

The space holds every choice made by hand for the final model: first-stage filters, Dense width,
stride or pooling, where Dropout goes and its rate, Adam's learning rate, and the input pipeline's
augmentation: pixel shift, rotation and zoom (tuned in ``CNNHyperModel.fit``). A model that would
break the problem's rules (1M parameters, a BatchNormalization, a Dropout with rate > 0) or the cost
cap (``MAX_STEP_RATIO``: its measured step time against the hand-picked model's,
``check_step_cost``) is never handed out (``GuidedHyperbandOracle`` draws again), and ``build`` would
refuse it before it trains with keras-tuner's ``FailedTrialError``.

Why Hyperband, and its budget: the final model trains 10 epochs at batch 32 (the problem's settings),
so the budget is counted in epochs. Hyperband with ``max_epochs`` = the final training's 10 epochs and
factor 3 runs, per iteration, three brackets: 17 configurations in 23 trials and at most 92 epochs
(promoted trials continue from their checkpoints; a refused configuration costs none).
``HYPERBAND_ITERATIONS`` = 2 makes 34 configurations in 46 trials, spread over the cores by the
project's chief/worker mode.
``--epochs`` sets ``max_epochs``; ``--trials N`` caps the fits. Trials are scored on the validation
split only. The first configuration is today's hand-picked model (``GuidedHyperbandOracle``), so the
search weighs it like any other.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import keras
import keras_tuner as kt

from models.cnn import FINAL_EPOCHS, HAND_PICKED, ConstraintError, build_cnn_hp
from training import input_pipeline, steps_per_epoch, tuner_seed
from training.pipeline import ROTATIONS, SHIFTS, ZOOMS
from tuning.common import (
    WORKER_TIMEOUT,
    completed_trials,
    ensure_success,
    open_resumable,
    role,
    run_search,
    space_hash,
)

MAX_EPOCHS, FACTOR, HYPERBAND_ITERATIONS = FINAL_EPOCHS, 3, 2
REDRAWS = 100  # random draws tried in place of one that breaks the rules or the cost cap

# The cost cap, in measured step time: a layout whose batch-32 training step takes more than
# MAX_STEP_RATIO times the hand-picked model's, on the backend the search runs on, is refused before it
# trains. Why 1.1: with the hand-picked CNN, --problem all took 522-592 s per edition against its
# 600 s goal (README, "Speed"), and the CNN's 20 epochs are most of its critical path, so a slower CNN
# breaks the goal (the pooled 16/32 layout, 2x the step time, took 2018's run to 1,078 s); 0.1 is the
# ratio's spread between rounds of the table's measurement. The table is benchmarks/cnn_layouts.py's.
MAX_STEP_RATIO = 1.1
LAYOUT_COST = Path(__file__).with_name("cnn_layout_cost.json")
LAYOUT_KEYS = ("filters", "dense_units", "downsample", "conv_dropout")


def layout_key(values: dict) -> str:
    """The part of a configuration that sets the step time (``LAYOUT_KEYS``), as the cost table names it."""
    return "{filters}/{dense_units} {downsample} conv_dropout={conv_dropout}".format(**values)


HAND_PICKED_LAYOUT = layout_key(HAND_PICKED)


@cache
def layout_costs(backend: str, path: Path = LAYOUT_COST) -> dict:
    """``backend``'s measured step-time ratios (layout key -> ratio to the hand-picked model's; inf for
    a layout left untimed because it costs at least as much as one over the cap)."""
    table = json.loads(path.read_text()) if path.is_file() else {}
    if backend not in table:
        raise ConstraintError(
            f"no measured layout costs for backend '{backend}' in {path.name}: "
            f"run `python benchmarks/cnn_layouts.py --backend {backend}`"
        )
    return {key: row.get("ratio", float("inf")) for key, row in table[backend]["layouts"].items()}


def check_step_cost(values: dict, backend: str | None = None, max_ratio: float | None = None) -> float:
    """The step-time ratio of ``values``' layout to the hand-picked model's on ``backend`` (default:
    Keras'); ConstraintError if it is over ``max_ratio`` (default ``MAX_STEP_RATIO``) or was never
    measured."""
    backend = backend or keras.backend.backend()
    max_ratio = MAX_STEP_RATIO if max_ratio is None else max_ratio
    key = layout_key(values)
    ratio = layout_costs(backend).get(key)
    if ratio is None:
        raise ConstraintError(f"layout {key} has no measured step time on {backend}; the cost cap cannot judge it")
    if ratio == float("inf"):
        raise ConstraintError(f"layout {key} costs at least as much as one over the cost cap on {backend}")
    if ratio > max_ratio:
        raise ConstraintError(
            f"layout {key} takes {ratio:.2f}x the hand-picked model's step time on {backend}; "
            f"the cost cap is {max_ratio}x"
        )
    return ratio


class GuidedHyperbandOracle(kt.oracles.HyperbandOracle):
    """Hyperband whose first configuration is every hyperparameter's default, that is today's
    hand-picked model (``build_cnn_hp``'s defaults, shift 1), and whose random draws keep the rules: a
    draw ``feasible`` refuses (over 1M parameters or the cost cap) is drawn again, up to ``REDRAWS``
    times. The hand-picked configuration enters the first bracket like any draw.

    Why redraw: Hyperband promotes from a round only once more of its trials have completed than it
    will drop. A refused trial fills a slot and never completes, so with the 40% of draws this space
    refuses, no bracket of the first search promoted anything: it was random search at 2, 4 and 10
    epochs (its trials.csv shows every trial in round 0)."""

    def __init__(self, *args, feasible=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.feasible = feasible or (lambda values: True)

    def _random_values(self):
        if not self.trials:
            return {hp.name: hp.default for hp in self.hyperparameters.space}
        values = None
        for _ in range(REDRAWS):
            values = super()._random_values()
            if values is None or self.feasible(values):
                break
        return values  # after REDRAWS refusals the last draw goes out, and build() refuses it as before


class GuidedHyperband(kt.Hyperband):
    """``kt.Hyperband`` (its epochs per round and checkpoint reloads) with ``GuidedHyperbandOracle``."""

    def __init__(self, hypermodel, *, directory, project_name, overwrite=False, **oracle_kwargs):
        oracle = GuidedHyperbandOracle(**oracle_kwargs)
        # Skip kt.Hyperband.__init__, which only builds its own oracle.
        kt.Tuner.__init__(
            self, oracle=oracle, hypermodel=hypermodel, directory=directory, project_name=project_name,
            overwrite=overwrite,
        )  # fmt: skip


class CNNHyperModel(kt.HyperModel):
    """Builds a rule-abiding CNN (or refuses the trial); its ``fit`` also tunes the pixel shift."""

    def __init__(self, input_shape, num_classes: int, decay_steps: int, seed: int, batch_size: int):
        super().__init__(name="cnn")
        self.input_shape, self.num_classes = tuple(input_shape), num_classes
        self.decay_steps, self.seed, self.batch_size = decay_steps, seed, batch_size

    def _checked_build(self, hp):
        """``build_cnn_hp``'s model, or ConstraintError if it breaks the rules or the cost cap."""
        model = build_cnn_hp(hp, self.decay_steps, self.input_shape, self.num_classes)
        check_step_cost(hp.values)
        return model

    def build(self, hp):
        try:
            return self._checked_build(hp)
        except ConstraintError as err:  # refused before training; FailedTrialError is never retried
            raise kt.errors.FailedTrialError(f"refused: {err}") from err

    def feasible(self, values: dict) -> bool:
        """Whether the model of ``values`` keeps the rules and the cost cap (built, never trained)."""
        hp = kt.HyperParameters()
        hp.values.update(values)
        try:
            self._checked_build(hp)
        except ConstraintError:
            return False
        return True

    @staticmethod
    def augmentation(hp) -> dict:
        """The input pipeline's share of the space: shift, rotation and zoom (defaults: ``HAND_PICKED``)."""
        return {
            "shift": hp.Choice("shift", SHIFTS, default=HAND_PICKED["shift"]),
            "rotation": hp.Choice("rotation", ROTATIONS, default=HAND_PICKED["rotation"]),
            "zoom": hp.Choice("zoom", ZOOMS, default=HAND_PICKED["zoom"]),
        }

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        ds = input_pipeline(
            (x, y), self.batch_size, self.seed, image_shape=self.input_shape[:2], **self.augmentation(hp)
        )
        return model.fit(ds, validation_data=validation_data, shuffle=False, **kwargs)


def space_key(hypermodel: CNNHyperModel) -> str:
    """A short hash of the search space (the model's hyperparameters and the augmentation's, every value)
    and of the cost cap: trials kept under another space are never resumed as this one's."""
    hp = kt.HyperParameters()
    build_cnn_hp(hp, hypermodel.decay_steps, hypermodel.input_shape, hypermodel.num_classes)
    hypermodel.augmentation(hp)
    return space_hash(hp, max_step_ratio=MAX_STEP_RATIO)


def search_cnn(
    train,
    val,
    seed: int,
    directory: Path,
    project: str,
    batch_size: int,
    trials: int | None = None,
    epochs: int | None = None,
    tensorboard: Path | None = None,
    verbose: int = 1,
    worker_timeout: float = WORKER_TIMEOUT,
    workers: tuple[list[str], int] | None = None,
):
    """Search (or resume) and return ``(best_hp, tuner, trials_reused)``; the caller retrains the best.

    Args:
        train, val: (x, y) with images shaped (n, h, w, 1) and one-hot labels.
        project: the tuner project's name (carries the seed, budget and data); the space's key
            (``space_key``) is appended, so a changed space starts a new project.
        trials: a cap on Hyperband's fits (None: its own schedule).
        epochs: Hyperband's ``max_epochs`` (default ``MAX_EPOCHS``).
        worker_timeout, workers: chief/worker mode (``tuning.common.run_search``).
    """
    max_epochs = epochs or MAX_EPOCHS
    decay = max_epochs * steps_per_epoch(len(train[0]), batch_size)

    hypermodel = CNNHyperModel(train[0].shape[1:], train[1].shape[1], decay, seed, batch_size)
    project = f"{project}_{space_key(hypermodel)}"

    def make_tuner():
        tuner = GuidedHyperband(
            hypermodel,
            feasible=hypermodel.feasible,
            objective="val_accuracy",
            max_epochs=max_epochs,
            factor=FACTOR,
            # With --trials, brackets repeat until that many fits (with max_epochs=1 one bracket is one fit).
            hyperband_iterations=None if trials else HYPERBAND_ITERATIONS,
            seed=tuner_seed(seed),
            # A refused model that slips through is a FAILED trial; it must not end the search (default: 3).
            max_consecutive_failed_trials=1000,
            directory=str(directory),
            project_name=project,
            overwrite=False,
        )
        # kt.Hyperband takes no max_trials, but its oracle honours one (Oracle.create_trial stops there).
        tuner.oracle.max_trials = trials
        return tuner

    tuner = open_resumable(make_tuner, Path(directory) / project)
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
    return tuner.get_best_hyperparameters(1)[0], tuner, reused


def cost(tuner) -> dict:
    """Fits and epochs the search actually spent (a promoted Hyperband trial trains only its new epochs)."""
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    epochs = sum(
        t.hyperparameters.values["tuner/epochs"] - t.hyperparameters.values["tuner/initial_epoch"] for t in done
    )
    return {"fits": len(done), "epochs": int(epochs), "failed": len(tuner.oracle.trials) - len(done)}
