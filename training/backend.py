"""Which Keras backend a process trains on, and how many threads it may use.

Keras 3 reads ``KERAS_BACKEND`` once, when it is first imported, so the choice is made here before
anything imports keras: ``--backend``, else ``KERAS_BACKEND``, else ``DEFAULT_BACKEND``. TensorFlow
is the original setup of the problem set; JAX is the default because it measured faster for
``--problem all`` (README, "Backends"; ``benchmarks/speed.py --only backends``).
"""

from __future__ import annotations

import os
import sys

BACKENDS = ("jax", "tensorflow")
DEFAULT_BACKEND = "jax"
# XLA's CPU client takes every core unless told otherwise; with one thread per process (--jobs 2 on
# 2 CPUs) two processes would otherwise fight over both cores. Only "one thread" can be said to XLA:
# a larger --threads leaves it its default (every core), and the record says so.
JAX_ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# XLA's experimental oneDNN fusions (--xla_cpu_experimental_onednn_fusion_type) are left off: with
# them a CNN's predictions depended on the batch size (0.02 apart on a fresh model at 32 and 1000,
# 0.36 after one epoch), so a search scoring at batch 32 ranked wrong numbers (test_backend).
# A user's own XLA_FLAGS are kept, and recorded with each result.


_threads: int | None = None  # what select_backend was given: TensorFlow takes it when it starts


class BackendError(ValueError):
    """An unknown backend name, or one asked for after Keras was imported with another."""


def choose_backend(flag: str | None = None) -> str:
    """``flag`` (``--backend``), else ``$KERAS_BACKEND``, else ``DEFAULT_BACKEND``; checked against ``BACKENDS``."""
    name = (flag or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND).lower()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}'; this project runs on: {', '.join(BACKENDS)}")
    return name


def select_backend(name: str, threads: int | None = None) -> None:
    """Make ``name`` this process's Keras backend, with ``threads`` threads (None: the backend's default).

    Must run before keras is imported; the environment is inherited by child processes (search
    workers, ``--problem all``'s children). TensorFlow's thread counts are set when it starts
    (``import_tensorflow``), XLA's here through ``XLA_FLAGS``.

    Raises:
        BackendError: keras is already imported with another backend.
    """
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise BackendError(f"keras was imported on {keras.backend.backend()} before {name} could be chosen")
    global _threads
    _threads = threads
    os.environ["KERAS_BACKEND"] = name
    flags = os.environ.get("XLA_FLAGS", "")
    if name == "jax" and threads == 1 and JAX_ONE_THREAD_FLAGS not in flags:
        flags = f"{flags} {JAX_ONE_THREAD_FLAGS}"
    flags = " ".join(flags.split())
    if flags:
        os.environ["XLA_FLAGS"] = flags
    else:
        os.environ.pop("XLA_FLAGS", None)


def import_tensorflow():
    """TensorFlow, started with this process's threads and with stderr silenced while it starts when
    the log level is 3 (main.py's default); returns the module.

    Some start-up lines (CUDA stub, absl's "before InitializeLog" warning) are written before
    TensorFlow reads TF_CPP_MIN_LOG_LEVEL, so only closing the stream hides them. Python errors still
    show: they are raised after stderr is restored. On JAX, TensorFlow is imported only where it is
    used (tf.data, the Playground port), through this. Threads can only be set before the devices
    start, so a process that has started them already (tests) keeps what it has.
    """
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3" and "tensorflow" not in sys.modules
    if quiet:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        sys.stderr.flush()
        os.dup2(null, 2)
    try:
        import tensorflow as tf

        if _threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(_threads)
                tf.config.threading.set_inter_op_parallelism_threads(_threads)
            except RuntimeError:  # devices already started in this process
                pass
        tf.config.list_logical_devices()  # device start-up writes the second batch of lines
    finally:
        if quiet:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)
    return tf


def start_backend(name: str, threads: int | None) -> None:
    """Choose ``name`` for this process and start it, TensorFlow quietly (``import_tensorflow``), so
    that no timed step pays for the start."""
    select_backend(name, threads)
    if name == "tensorflow":
        import_tensorflow()
    else:
        import jax

        jax.devices()  # start the CPU client now, not inside the first timed step


def backend_record(threads: int | None) -> dict:
    """What result.json records of the backend: its name, version, the threads it was given and, on
    JAX, the XLA flags it ran with."""
    import keras

    name = keras.backend.backend()
    from importlib.metadata import version

    record = {
        "name": name,
        "version": version("jax" if name == "jax" else "tensorflow"),
        "threads": threads,
        "threads_meaning": _threads_meaning(name, threads),
    }
    if name == "jax":
        record["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    return record


def numerics_key(threads: int | None) -> str:
    """What besides the settings fixes a run's last digits (the backend, its threads, and on JAX whether
    a user's XLA_FLAGS hand the kernels to oneDNN), for the names of saved runs that a rerun may read back."""
    import keras

    name = keras.backend.backend()
    onednn = name == "jax" and "xla_cpu_use_onednn=true" in os.environ.get("XLA_FLAGS", "")
    return f"{name}_t{threads}" + ("_onednn" if onednn else "")


def _threads_meaning(name: str, threads: int | None) -> str:
    if threads is None:
        return "the backend's default (every CPU)"
    if name == "tensorflow":
        return f"{threads} intra-op and {threads} inter-op TensorFlow threads"
    if threads == 1:
        return f"one XLA CPU thread ({JAX_ONE_THREAD_FLAGS})"
    return "XLA's default (every CPU): XLA takes no other thread count"
