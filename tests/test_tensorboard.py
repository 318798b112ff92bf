"""``--tensorboard DIR``: event files for a training run that goes through ``training.fit``."""

import numpy as np
import pytest


@pytest.mark.backends
def test_a_training_run_leaves_tensorboard_event_files(tmp_path):
    import keras

    from problems.context import RunContext
    from training import fit

    ctx = RunContext("2018", "2C", out_dir=tmp_path / "out", tensorboard=tmp_path / "tb")
    assert RunContext("2018", "2C").callbacks("final") == []  # without --tensorboard: no callback
    rng = np.random.default_rng(0)
    x = rng.random((40, 16)).astype("float32")
    y = np.eye(2, dtype="float32")[(x[:, 0] > 0.5).astype(int)]
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    fit(model, (x, y), (x, y), epochs=1, batch_size=8, seed=1, verbose=0, callbacks=ctx.callbacks("final"))
    for split in ("train", "validation"):
        assert list((tmp_path / "tb/2018/2C/final" / split).glob("events.out.tfevents.*"))
