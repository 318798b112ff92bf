"""Section 1: the seedrandom port, the Playground's data and network rules, the logic-gate networks."""

import json
import math

import keras
import numpy as np
import pytest

from data_prep.playground import SeedRandom, circle, make_playground_data, mixkey, shuffle
from models.playground import (
    TRUTH_INPUTS,
    PlaygroundSGD,
    build_no_hidden_layer,
    build_or_exact,
    build_or_relu,
    build_playground_model,
    build_xor_relu,
    dead_units,
    playground_weights,
)

SIZES = (2, 4, 2, 1)
# The Playground port computes in float64 inside a tf.function: it runs on TensorFlow only
# (problems/registry.py PLAYGROUND_BACKENDS; JAX would compute in float32), so its tests run in the
# TensorFlow pass of `make test`.
PLAYGROUND_PORT = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the Playground port runs on TensorFlow only"
)


# --- seedrandom (ARC4) ---------------------------------------------------------------------------


def test_seedrandom_matches_the_libraries_published_outputs():
    # seedrandom's README and its test suite: Math.seedrandom('hello.') then Math.random() three times.
    rng = SeedRandom("hello.")
    assert [rng.random() for _ in range(3)] == [0.9282578795792454, 0.3752569768646784, 0.7316977468919549]


def test_seedrandom_is_repeatable_and_seed_sensitive():
    a, b, c = SeedRandom("0.65409"), SeedRandom("0.65409"), SeedRandom("0.6541")
    first = [a.random() for _ in range(50)]
    assert first == [b.random() for _ in range(50)]
    assert first != [c.random() for _ in range(50)]
    assert all(0.0 <= v < 1.0 for v in first)


def test_mixkey_folds_characters_with_the_smear():
    # By hand: fresh slots read 0, so the smear stays 0 and each slot takes its character ('a' = 97);
    # the 257th character wraps onto slot 0: smear = 97 * 19 = 1843, key[0] = (1843 + 97) & 255 = 148.
    assert mixkey("ab") == [97, 98]
    assert mixkey("a" * 257) == [148] + [97] * 255
    assert mixkey("") == []


# --- the circle data -----------------------------------------------------------------------------


def test_circle_data_follows_the_playground_rules():
    data = make_playground_data("circle", "0.65409")
    x = np.vstack([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    assert data.x_train.shape == (250, 2) and data.x_test.shape == (250, 2)
    radius = np.hypot(x[:, 0], x[:, 1])
    assert np.sum(y > 0) == 250 and np.sum(y < 0) == 250
    assert np.all((radius < 2.5) == (y > 0))  # the label rule at noise 0
    assert radius[y > 0].max() < 2.5 and radius[y < 0].min() >= 3.5 and radius[y < 0].max() < 5
    # 4 draws a point (the two noise draws happen at noise 0 too), then one per element for the shuffle.
    assert data.rng.draws == 500 * 4 + 500


def test_same_seed_same_data_and_the_shuffle_mixes_the_classes():
    a, b = make_playground_data("circle", "0.6"), make_playground_data("circle", "0.6")
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    other = make_playground_data("circle", "0.65409")
    assert not np.array_equal(a.x_train, other.x_train)
    assert 80 < np.sum(a.y_train > 0) < 170  # generated inner-first; after the shuffle both halves are mixed


def test_the_first_point_is_drawn_and_placed_as_the_playground_does():
    # Replays dataset.ts by hand: radius, angle, two noise draws; then Fisher-Yates from the end.
    rng = SeedRandom("seed")
    r, angle = rng.random() * 2.5, rng.random() * 2 * math.pi
    points = circle(SeedRandom("seed"), 10)
    assert points[0] == pytest.approx((r * math.sin(angle), r * math.cos(angle), 1.0), abs=0)
    items = list(range(5))
    shuffle(items, SeedRandom("s"))
    ref, counter, order = SeedRandom("s"), 5, list(range(5))
    while counter > 0:
        index = math.floor(ref.random() * counter)
        counter -= 1
        order[counter], order[index] = order[index], order[counter]
    assert items == order and sorted(items) == list(range(5))


def test_other_data_sets_have_their_sizes_and_labels():
    for name in ("xor", "gauss", "spiral"):
        data = make_playground_data(name, "1", noise=0.0)
        assert len(data.y_train) + len(data.y_test) == 500
        assert set(np.unique(data.y_train)) == {-1.0, 1.0}
    xor = make_playground_data("xor", "1")
    x = np.vstack([xor.x_train, xor.x_test])
    assert np.all((x[:, 0] * x[:, 1] >= 0) == (np.concatenate([xor.y_train, xor.y_test]) > 0))
    with pytest.raises(ValueError, match="unknown Playground data set"):
        make_playground_data("moons")


# --- the network's initialisation ----------------------------------------------------------------


@PLAYGROUND_PORT
@pytest.mark.backends
def test_random_init_draws_in_nn_ts_order_uniform_weights_biases_point_one():
    model = build_playground_model((4, 2), "relu", "random", SeedRandom("w"))
    ref = SeedRandom("w")
    draws = [ref.random() - 0.5 for _ in range(2 * 4 + 4 * 2 + 2 * 1)]
    kernel_1, bias_1, kernel_2, bias_2, kernel_3, bias_3 = model.get_weights()
    # Node by node, then link by link: unit i of layer 1 takes draws 2i and 2i + 1.
    np.testing.assert_array_equal(kernel_1.T.ravel(), draws[:8])
    np.testing.assert_array_equal(kernel_2.T.ravel(), draws[8:16])
    np.testing.assert_array_equal(kernel_3.T.ravel(), draws[16:])
    for bias in (bias_1, bias_2, bias_3):
        np.testing.assert_array_equal(bias, 0.1)
    weights = np.concatenate([kernel_1.ravel(), kernel_2.ravel(), kernel_3.ravel()])
    assert weights.min() >= -0.5 and weights.max() < 0.5 and weights.std() > 0.1
    assert model.layers[1].dtype == "float64"


def test_zero_init_is_all_zeros_but_still_consumes_the_draws():
    rng = SeedRandom("z")
    model = build_playground_model((4, 2), "sigmoid", "zero", rng)
    assert all(np.all(w == 0) for w in model.get_weights())
    assert rng.draws == 18  # the Link field initialiser draws before initZero overwrites
    with pytest.raises(ValueError):
        playground_weights(SIZES, "random", None)


# --- the training rule ---------------------------------------------------------------------------


def _numpy_step(weights, x, y, lr):
    """One Playground update by hand: per-point backprop of 1/2 (o - y)^2, mean over the batch."""
    k1, b1, k2, b2, k3, b3 = weights
    grads = [np.zeros_like(w) for w in weights]
    for xi, yi in zip(x, y, strict=True):
        s1 = xi @ k1 + b1
        h1 = np.maximum(s1, 0)
        s2 = h1 @ k2 + b2
        h2 = np.maximum(s2, 0)
        o = np.tanh(h2 @ k3 + b3)
        d3 = (o - yi) * (1 - o**2)  # no factor 2: the 1/2 in the loss cancels it
        d2 = (k3 @ d3) * (s2 > 0)
        d1 = (k2 @ d2) * (s1 > 0)
        for g, add in zip(grads, (np.outer(xi, d1), d1, np.outer(h1, d2), d2, np.outer(h2, d3), d3), strict=True):
            g += add
    return [w - lr * g / len(x) for w, g in zip(weights, grads, strict=True)]


@PLAYGROUND_PORT
@pytest.mark.backends
@pytest.mark.parametrize("jit", [True, False])
def test_one_sgd_step_equals_the_hand_computed_half_mse_step(jit):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-5, 5, (10, 2)), np.where(rng.random(10) < 0.5, 1.0, -1.0)
    model = build_playground_model((4, 2), "relu", "random", SeedRandom("step"))
    before = model.get_weights()
    PlaygroundSGD(model, jit_compile=jit).train(x, y, 1, learning_rate=0.03)
    expected = _numpy_step(before, x, y, 0.03)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    # Keras' MeanSquaredError (no 1/2) would take the step of twice the rate: a visibly different one.
    doubled = _numpy_step(before, x, y, 0.06)
    assert max(np.abs(g - d).max() for g, d in zip(model.get_weights(), doubled, strict=True)) > 1e-4


@PLAYGROUND_PORT
@pytest.mark.backends
def test_a_batch_straddles_epochs_like_the_playgrounds_leftover_gradients():
    # 15 points, batch 10: epoch 1 makes one update and leaves 5 points pending; epoch 2 completes
    # that batch with its first 5 points, then one more. The same as one pass over 30 points.
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-5, 5, (15, 2)), np.where(rng.random(15) < 0.5, 1.0, -1.0)
    a = build_playground_model((4, 2), "tanh", "random", SeedRandom("s"))
    b = build_playground_model((4, 2), "tanh", "random", SeedRandom("s"))
    PlaygroundSGD(a, jit_compile=False).train(x, y, 2)
    PlaygroundSGD(b, jit_compile=False).train(np.vstack([x, x]), np.concatenate([y, y]), 1)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-14)


@PLAYGROUND_PORT
@pytest.mark.backends
def test_zero_init_relu_keeps_every_weight_at_zero_but_the_output_bias_moves():
    data = make_playground_data("circle", "0.6")
    model = build_playground_model((4, 2), "relu", "zero")
    history = PlaygroundSGD(model, jit_compile=False).train(data.x_train, data.y_train, 5)
    *frozen, output_bias = model.get_weights()
    assert all(np.all(w == 0) for w in frozen)  # ReLU'(0) = 0: exactly, not approximately
    assert output_bias[0] != 0  # its gradient passes through no ReLU
    assert np.tanh(output_bias[0]) == pytest.approx(np.mean(data.y_train), abs=0.05)
    assert history.shape == (5, 4) and history[-1, 0] < 0.5


@PLAYGROUND_PORT
@pytest.mark.backends
def test_zero_init_sigmoid_units_of_a_layer_stay_identical():
    data = make_playground_data("circle", "0.6")
    model = build_playground_model((4, 2), "sigmoid", "zero")
    PlaygroundSGD(model, jit_compile=False).train(data.x_train, data.y_train, 20)
    k1, b1, k2, b2, _, _ = model.get_weights()
    assert np.abs(k1).max() > 0  # they move (sigmoid(0) = 0.5, not 0) ...
    for kernel, bias in ((k1, b1), (k2, b2)):
        units = np.vstack([kernel, bias])
        assert np.abs(units - units[:, :1]).max() < 1e-12  # ... but all alike


# --- dead units ----------------------------------------------------------------------------------


def test_dead_unit_counter_on_a_hand_made_model():
    model = build_playground_model((4, 2), "relu", "zero")
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    k1[:, 1:] = [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]  # units 1-3 follow x1, -x1, x2; unit 0 stays 0
    b1[:] = [-1.0, 0.0, 0.0, 0.0]  # unit 0: ReLU(-1) = 0 on every input
    k2[:, 0] = [0.0, 1.0, 1.0, 1.0]  # layer-2 unit 0 adds the live units; unit 1 gets bias -1 only
    b2[:] = [0.5, -1.0]
    model.set_weights([k1, b1, k2, b2, k3, b3])
    x = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, -1.0]])
    layer_1, layer_2 = dead_units(model, x)
    assert layer_1.tolist() == [True, False, False, False]
    assert layer_2.tolist() == [False, True]
    # Unit 2 (-x1) is dead on the first point alone but alive on the second: not dead.
    assert not dead_units(model, x[:1])[0][1] and dead_units(model, x[:1])[0][2]


def test_dying_relu_judges_the_orders_gap_against_the_spread_over_initialisations():
    from problems.dying_relu import _note_larger_rate, _tally

    def outcome(dead: list[bool], accuracy: list[float]) -> dict:
        dead = np.array(dead)
        return {
            "dead_after_first_half": dead,
            "dead_after_epoch_1": dead,
            "dead_at_end": dead,
            "recovered": np.zeros_like(dead),
            "accuracy": np.array(accuracy),
        }

    # Negatives-first: a quarter dead in every run (no spread); shuffled: none or all dead (wide spread).
    nf = _tally([outcome([True, False, False, False], [0.5, 0.8])] * 2, 2)
    wide = _tally([outcome([False] * 4, [0.5, 0.9]), outcome([True] * 4, [0.5, 0.7])], 2)
    narrow = _tally([outcome([False] * 4, [0.5, 0.9])] * 2, 2)
    assert wide["dead_fraction_at_end_std"] == pytest.approx(np.std([0, 1], ddof=1))
    assert nf["dead_fraction_at_end_std"] == 0 and wide["final_accuracy_std"] == pytest.approx(
        np.std([0.9, 0.7], ddof=1)
    )
    within = _note_larger_rate({"lr_1/negatives_first": nf, "lr_1/shuffled": wide}, 1.0, 500)
    beyond = _note_larger_rate({"lr_1/negatives_first": nf, "lr_1/shuffled": narrow}, 1.0, 500)
    assert "dead share: a gap of -0.250, which is within the spread over the initialisations (0.707)" in within
    assert "the write-ups' effect does not appear here either" in within and "effect appears" in beyond
    leaning = _note_larger_rate({"lr_1/negatives_first": wide, "lr_1/shuffled": nf}, 1.0, 500)
    assert "the means lean the write-ups' way, by less than the spread over the initialisations" in leaning
    assert "dead share: a gap of +0.250, which exceeds the spread over the initialisations (0.000)" in beyond
    assert "accuracy: a gap of -0.100, which exceeds the spread over the initialisations (0.000)" in beyond


# --- OR and XOR ----------------------------------------------------------------------------------


def _outputs(model):
    return np.asarray(model(TRUTH_INPUTS))[:, 0].tolist()


def test_or_from_one_relu_meets_the_problems_spec():
    out = _outputs(build_or_relu())  # inputs 00, 01, 10, 11
    assert out[0] == 0 and min(out[1:]) >= 1
    assert len(build_or_relu().layers) == 1 and build_or_relu().count_params() == 3
    assert _outputs(build_or_exact()) == [0.0, 1.0, 1.0, 1.0]


def test_xor_with_one_hidden_layer_is_exact():
    assert _outputs(build_xor_relu()) == [0.0, 1.0, 1.0, 0.0]


def test_no_hidden_layer_cannot_pass_all_four_xor_cases():
    import keras

    keras.utils.set_random_seed(3)
    model = build_no_hidden_layer(learning_rate=0.2)
    target = np.array([0.0, 1.0, 1.0, 0.0], dtype="float32")
    model.fit(np.tile(TRUTH_INPUTS, (1000, 1)), np.tile(target, 1000), batch_size=4, shuffle=False, verbose=0)
    out = np.asarray(model(TRUTH_INPUTS))[:, 0]
    assert np.all(np.abs(out - 0.5) < 0.05)  # the least-squares fit is the constant 0.5
    assert np.sum((out > 0.5) == target.astype(bool)) <= 3
    # And no linear threshold unit at all: a grid of weights and biases never passes 4.
    grid = np.linspace(-2, 2, 41)
    w1, w2, b = (a.ravel() for a in np.meshgrid(grid, grid, grid))
    scores = np.outer(w1, TRUTH_INPUTS[:, 0]) + np.outer(w2, TRUTH_INPUTS[:, 1]) + b[:, None]
    passed = ((scores > 0.5) == target.astype(bool)).sum(axis=1)
    assert passed.max() == 3


# --- whole runs ----------------------------------------------------------------------------------


@pytest.mark.backends
@pytest.mark.parametrize(
    ("edition", "pid", "measured"), [("2018", "1Ci", "meets_or_spec"), ("2023", "1E", "xor_correct")]
)
def test_gate_problems_run_end_to_end(tmp_path, edition, pid, measured):
    from problems.cli import main

    out = tmp_path / "reports"
    assert main(["--edition", edition, "--problem", pid, "--out", str(out), "--epochs", "50", "--quiet"]) == 0
    result = json.loads((out / edition / pid / "result.json").read_text())
    assert result["metrics"][measured] is True  # the hand-set network computes its gate exactly
    assert result["headline"] and result["notes"] and result["plots"]
    for plot in result["plots"]:
        assert (out / edition / pid / plot).stat().st_size > 1000
