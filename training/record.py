"""One train-and-score path: build a model, train it on a split, score it once on the test set, and
return a typed record of the run; and the figures of several such runs over seeds."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class RunRecord:
    """One model trained with one seed and scored: what a report needs of a training run.

    Attributes:
        seed: the seed set before the model was built (weights, dropout masks, shuffles, shifts).
        backend, threads: the Keras backend and the threads it was given (training.backend).
        settings: what was trained, as the problem states it (epochs, batch size, shift, rates...).
        history: per-epoch curves (loss, accuracy, val_loss, val_accuracy).
        test_loss, test_accuracy: the test set, scored once after training.
        val_loss, val_accuracy, train_accuracy: the last epoch's.
        train_seconds: wall seconds of building, training and scoring.
        params: the model's parameters as the problems' limits count them (no optimizer state).
    """

    seed: int
    backend: str
    threads: int | None
    settings: dict
    history: dict[str, list[float]] = field(repr=False)
    test_loss: float
    test_accuracy: float
    val_loss: float
    val_accuracy: float
    train_accuracy: float
    train_seconds: float
    params: int

    def figures(self) -> dict:
        """This run's row of a per-seed table: everything but the settings and the curves."""
        found = asdict(self)
        for key in ("settings", "history", "backend", "threads"):
            found.pop(key)
        return found


def train_and_score(
    build: Callable[[], object],
    train,
    val,
    test,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    shift: int = 0,
    settings: dict | None = None,
    threads: int | None = None,
    check: Callable[[object], object] | None = None,
    verbose: int = 2,
    callbacks=None,
    image_shape=(28, 28),
    rotation: float = 0.0,
    zoom: float = 0.0,
):
    """Seed, build, check, train on ``train`` (monitoring ``val``), score ``test`` once.

    Args:
        build: makes the compiled model (called after seeding, so its weights follow ``seed``).
        train, val, test: (x, y) pairs.
        epochs, batch_size, seed, shift: the training (``shift``: pixel-shift augmentation).
        rotation, zoom: affine augmentation (``training.pipeline.warp_images``; 0: none), recorded
            in the settings when used.
        settings: what the record names as the run's settings (epochs, batch size, shift and seed
            are added).
        threads: the backend's threads, recorded.
        check: called on the built model before it trains; raises to refuse it (budget, constraints).
        verbose, callbacks, image_shape: passed to ``training.fit``.

    Returns:
        (RunRecord, the trained model).
    """
    import keras

    from training import EVAL_BATCH_SIZE, fit, history_record, set_seed

    started = time.perf_counter()
    set_seed(seed)
    model = build()
    if check is not None:
        check(model)
    history = fit(
        model, train, val, epochs, batch_size, seed, shift, verbose, callbacks, image_shape, rotation, zoom
    ).history
    test_loss, test_accuracy = model.evaluate(*test, batch_size=EVAL_BATCH_SIZE, verbose=0)
    record = RunRecord(
        seed=seed,
        backend=keras.backend.backend(),
        threads=threads,
        settings={
            **(settings or {}),
            "epochs": epochs,
            "batch_size": batch_size,
            "shift": shift,
            **({"rotation": rotation, "zoom": zoom} if rotation or zoom else {}),
        },
        history=history_record(history),
        test_loss=float(test_loss),
        test_accuracy=float(test_accuracy),
        val_loss=float(history["val_loss"][-1]),
        val_accuracy=float(history["val_accuracy"][-1]),
        train_accuracy=float(history["accuracy"][-1]),
        train_seconds=round(time.perf_counter() - started, 2),
        params=model.count_params(),
    )
    return record, model


def train_over_seeds(
    build, train, val, test, seeds: list[int], label: str, callbacks_for=None, workers: int = 1, **kwargs
):
    """``train_and_score`` once per seed of ``seeds``, printing each seed's test figures after ``label``;
    ``callbacks_for(seed)`` gives each run its callbacks, ``kwargs`` the rest of ``train_and_score``'s.

    With ``workers`` > 1 the seeds are dealt round-robin over this process and ``workers - 1`` fresh
    processes on this process's backend and threads, training at the same time (3 seeds on 2 workers:
    two rounds instead of three). ``build`` and ``callbacks_for`` then go to the other processes by
    pickle (module-level functions, ``functools.partial``, bound methods), and ``check`` runs on the
    models this process builds: a seed changes a model's weights, never its layers. A seed trains to
    the same figures in either kind of process (tests/test_seeds.py).

    Returns:
        (records in the order of ``seeds``, the first seed's trained model).
    """
    here = list(seeds[:: max(1, workers)])
    away = [seed for seed in seeds if seed not in here]
    found, first = {}, None
    processes = min(workers - 1, len(away))
    pool = _seed_pool(processes, kwargs.get("threads")) if away else None
    finished = False
    try:
        if away:
            print(f"{label}: seeds {', '.join(map(str, away))} train in {processes} other process(es)", flush=True)
        away_kwargs = {**kwargs, "check": None, "verbose": 0}  # two processes' epoch lines would interleave
        pending = {
            seed: pool.submit(_train_away, build, train, val, test, seed, callbacks_for, away_kwargs) for seed in away
        }
        for seed in here:
            callbacks = callbacks_for(seed) if callbacks_for else None
            found[seed], model = train_and_score(build, train, val, test, seed=seed, callbacks=callbacks, **kwargs)
            _print_seed(label, found[seed])
            first = model if first is None else first
        for seed, future in pending.items():
            found[seed] = future.result()
            _print_seed(label, found[seed])
        finished = True
    finally:
        if pool is not None:
            if not finished:  # stopped or failed: no process may outlive this run, nor finish its seed first
                for process in pool._processes.values():
                    process.terminate()
            pool.shutdown(wait=finished, cancel_futures=True)
    return [found[seed] for seed in seeds], first


def _print_seed(label: str, record: RunRecord) -> None:
    print(f"{label} seed {record.seed}: test loss {record.test_loss:.5f}, test accuracy {record.test_accuracy:.4f}")


def _seed_pool(processes: int, threads: int | None):
    """A pool of ``processes`` fresh Python processes (spawned: a forked JAX or TensorFlow runtime can
    deadlock) that start this process's backend with ``threads`` threads before they take a seed. A
    worker that dies (killed, out of memory) fails its seed's result instead of leaving it waiting."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import keras

    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), keras.backend.backend(), threads),
    )


def _start_worker(parent: int, backend: str, threads: int | None) -> None:
    from training.backend import start_backend
    from training.processes import stop_with_parent

    stop_with_parent(parent, "seed worker")  # a run stopped or killed takes its seed workers with it
    start_backend(backend, threads)


def _train_away(build, train, val, test, seed: int, callbacks_for, kwargs) -> RunRecord:
    """One seed's ``train_and_score`` in a worker process: its record (the model stays behind)."""
    callbacks = callbacks_for(seed) if callbacks_for else None
    record, _ = train_and_score(build, train, val, test, seed=seed, callbacks=callbacks, **kwargs)
    return record


def sample_std(values) -> float | None:
    """The sample standard deviation; None for one value (no spread measured)."""
    return statistics.stdev(values) if len(values) > 1 else None


def seed_metrics(records: list[RunRecord], goal: float | None) -> dict:
    """The figures of ``records`` (one per seed) for result.json's ``metrics``: each figure's mean,
    the test figures' sample standard deviations, and whether the mean reaches ``goal`` (left out when
    ``goal`` is None: the goals are MNIST figures)."""
    found = {}
    for key in ("test_loss", "test_accuracy", "val_loss", "val_accuracy", "train_accuracy"):
        found[key] = statistics.fmean(getattr(r, key) for r in records)
    found["test_accuracy_std"] = sample_std([r.test_accuracy for r in records])
    found["test_loss_std"] = sample_std([r.test_loss for r in records])
    found["seeds"] = [r.seed for r in records]
    if goal is not None:
        found.update(goal_test_accuracy=goal, reached_goal=bool(found["test_accuracy"] >= goal))
    return found


def exceeds_spread(gap: float, spreads: list[float | None]) -> bool | None:
    """Whether ``gap`` exceeds the larger of the standard deviations given; None when none was measured."""
    measured = [s for s in spreads if s is not None]
    return abs(gap) > max(measured) if measured else None


def gap_against_spread(gap: float, spreads: list[float | None], digits: int = 4, name: str = "seed spread") -> str:
    """Whether a difference between two figures exceeds the seed spread measured in the same run (the
    larger of the standard deviations given), as a phrase that follows "which": "exceeds the seed
    spread (0.0010)", "is within the seed spread (...)", or that none was measured (one seed).
    ``digits``: decimals of the spread shown; ``name``: what the spread is over."""
    exceeds = exceeds_spread(gap, spreads)
    if exceeds is None:
        return f"cannot be judged against noise: no {name} was measured (one seed)"
    spread = max(s for s in spreads if s is not None)
    return f"{'exceeds' if exceeds else 'is within'} the {name} ({spread:.{digits}f})"
