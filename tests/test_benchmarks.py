"""benchmarks/speed.py runs end to end on a slice of real MNIST and writes a table a script can read."""

import json

from benchmarks import speed


def test_forward_flops_counts_dense_and_conv_layers():
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    assert speed.forward_flops(model) == 2 * (3 * 3 * 1 * 4 * 8 * 8) + 2 * (8 * 8 * 4 * 10)


def test_quick_run_writes_every_part(tmp_path, data_dir):
    assert speed.main(["--quick", "--only", "levers", "race", "--out", str(tmp_path), "--data-dir", str(data_dir)]) == 0
    result = json.loads((tmp_path / "speed.json").read_text())
    assert len(result["levers"]) == 6 and all(r["ms_per_step"] > 0 for r in result["levers"])
    models = [r["model"] for r in result["race"]]
    assert speed.WRITEUP in models and len(models) == 5
    assert all(0.0 <= r["final_test_accuracy"] <= 1.0 and r["epochs_run"] == 1 for r in result["race"])
    assert "| model |" in (tmp_path / "speed.md").read_text() and (tmp_path / "speed.png").stat().st_size > 0
