"""The TensorFlow Playground's two-dimensional data sets, drawn exactly as the browser draws them.

The Playground (github.com/tensorflow/playground, ``src/dataset.ts`` and ``src/playground.ts``)
seeds ``Math.random`` with David Bau's seedrandom library (ARC4) from the URL's ``seed`` string,
draws the points, shuffles them once (Fisher-Yates from the end) and trains on the first
``percTrainData`` percent in that fixed order. ``SeedRandom`` below is a pure-Python port of
seedrandom's default generator, so ``make_playground_data("circle", seed="0.65409")`` gives the
course's first demo's 500 points, and the same generator, drawn on, gives its initial weights.

Draw order of the circle set (``classifyCircleData``), per point: radius, angle, noise x, noise y.
The two noise draws happen even at noise 0 (they are multiplied by 0), so a point costs 4 draws.
The label is decided on the *noisy* point (distance from the centre < radius / 2 gives +1), but
the point stored is the noise-free one; at noise 0 the two agree, so inner points are all +1 and
ring points all -1. The first ``n / 2`` points are the inner ones, then the ring: order matters
only until the shuffle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# seedrandom's constants (IEEE 754 double limits): 6 ARC4 bytes start each double, 52 bits of mantissa.
_WIDTH, _CHUNKS, _DIGITS = 256, 6, 52
_MASK = _WIDTH - 1
_START_DENOM = _WIDTH**_CHUNKS
_SIGNIFICANCE = 2**_DIGITS
_OVERFLOW = 2 * _SIGNIFICANCE

# The Playground's classification sets hold 500 points (NUM_SAMPLES_CLASSIFY); the course used 50% for training.
NUM_SAMPLES = 500
PERC_TRAIN = 50
CIRCLE_RADIUS = 5.0


def _utf16_units(text: str) -> list[int]:
    """JavaScript's ``charCodeAt`` sequence: UTF-16 code units (surrogate pairs outside the BMP)."""
    raw = text.encode("utf-16-le")
    return [raw[i] | (raw[i + 1] << 8) for i in range(0, len(raw), 2)]


def mixkey(seed: str) -> list[int]:
    """seedrandom's ``mixkey``: fold a seed string into an ARC4 key of at most 256 bytes.

    ``smear`` starts undefined in JavaScript; ``undefined ^ NaN`` is 0, so it starts at 0 here, and
    key slots not yet written read as 0 for the same reason.
    """
    key: list[int] = []
    smear = 0
    for j, code in enumerate(_utf16_units(seed)):
        slot = _MASK & j
        old = key[slot] if slot < len(key) else 0
        smear ^= old * 19
        value = _MASK & (smear + code)
        if slot < len(key):
            key[slot] = value
        else:
            key.append(value)
    return key


class SeedRandom:
    """seedrandom's default PRNG (``Math.seedrandom(seed)``; ``Math.random()`` is ``random()`` here).

    ARC4 keyed by ``mixkey(seed)``, first 256 output bytes discarded (RC4-drop[256]); each double
    takes 6 or more bytes and keeps exactly 53 bits, computed here with Python integers so the result
    is bit-for-bit JavaScript's. ``SeedRandom("hello.").random()`` is 0.9282578795792454.
    """

    def __init__(self, seed: str):
        key = mixkey(str(seed)) or [0]  # the empty key is treated as [0]
        s = list(range(_WIDTH))
        j = 0
        for i in range(_WIDTH):
            t = s[i]
            j = _MASK & (j + key[i % len(key)] + t)
            s[i], s[j] = s[j], t
        self._s, self._i, self._j = s, 0, 0
        self.draws = 0  # how many doubles have been drawn: lets callers check a draw order
        self._bytes(_WIDTH)  # discard the first 256 bytes, as ARC4's constructor does

    def _bytes(self, count: int) -> int:
        """ARC4's ``g(count)``: the next ``count`` output bytes as one big-endian integer."""
        s, i, j, r = self._s, self._i, self._j, 0
        for _ in range(count):
            i = _MASK & (i + 1)
            t = s[i]
            j = _MASK & (j + t)
            s[i] = s[j]
            s[j] = t
            r = r * _WIDTH + s[_MASK & (s[i] + t)]
        self._i, self._j = i, j
        return r

    def random(self) -> float:
        """The next double in [0, 1), as seedrandom's ``prng()`` makes it."""
        n, d, x = self._bytes(_CHUNKS), _START_DENOM, 0
        while n < _SIGNIFICANCE:  # fill the 52 significant bits, one byte at a time
            n = (n + x) * _WIDTH
            d *= _WIDTH
            x = self._bytes(1)
        while n >= _OVERFLOW:  # shift right until exactly 53 bits remain (exact: n stays even)
            n //= 2
            d //= 2
            x >>= 1
        self.draws += 1
        return (n + x) / d

    def uniform(self, a: float, b: float) -> float:
        """The Playground's ``randUniform(a, b)``: ``Math.random() * (b - a) + a``."""
        return self.random() * (b - a) + a


@dataclass
class PlaygroundData:
    """A Playground data set after its shuffle and split.

    Attributes:
        x_train, x_test: (n, 2) float64 coordinates (x1, x2), in the Playground's training order.
        y_train, y_test: (n,) labels, +1 or -1.
        rng: the generator, left where the data left it: the network's weights are drawn from it next.
        seed: the seed string.
        name: which generator made the points.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    rng: SeedRandom
    seed: str
    name: str


def circle(rng: SeedRandom, num_samples: int = NUM_SAMPLES, noise: float = 0.0) -> list[tuple[float, float, float]]:
    """``classifyCircleData``: half inside radius 2.5 (+1), half on the ring 3.5..5 (-1).

    Args:
        rng: the seeded generator (4 draws a point: radius, angle, noise x, noise y).
        num_samples: points in all; the first half are drawn inside, the second half on the ring.
        noise: the Playground's noise slider / 100 (the course used 0).

    Returns:
        (x, y, label) tuples in draw order (inner points first).
    """
    radius = CIRCLE_RADIUS
    points = []
    for r_low, r_high in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        for _ in range(int(math.ceil(num_samples / 2))):  # JS: for (i = 0; i < n / 2; i++)
            r = rng.uniform(r_low, r_high)
            angle = rng.uniform(0.0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            noise_x = rng.uniform(-radius, radius) * noise
            noise_y = rng.uniform(-radius, radius) * noise
            # The label follows the noisy point; the stored point is the clean one (as in dataset.ts).
            label = 1.0 if math.hypot(x + noise_x, y + noise_y) < radius * 0.5 else -1.0
            points.append((x, y, label))
    return points


def xor(rng: SeedRandom, num_samples: int = NUM_SAMPLES, noise: float = 0.0) -> list[tuple[float, float, float]]:
    """``classifyXORData``: uniform on [-5, 5]^2 pushed 0.3 away from the axes; +1 where x * y >= 0."""
    points = []
    for _ in range(num_samples):
        x = rng.uniform(-5, 5)
        x += 0.3 if x > 0 else -0.3
        y = rng.uniform(-5, 5)
        y += 0.3 if y > 0 else -0.3
        noise_x = rng.uniform(-5, 5) * noise
        noise_y = rng.uniform(-5, 5) * noise
        points.append((x, y, 1.0 if (x + noise_x) * (y + noise_y) >= 0 else -1.0))
    return points


def _normal(rng: SeedRandom, mean: float, variance: float) -> float:
    """``normalRandom``: the polar Box-Muller method, two draws per try, first coordinate kept."""
    while True:
        v1 = 2 * rng.random() - 1
        v2 = 2 * rng.random() - 1
        s = v1 * v1 + v2 * v2
        if s <= 1:  # JS loops while s > 1 (s == 0 would give NaN there too; it has probability ~0)
            break
    return mean + math.sqrt(variance) * math.sqrt(-2 * math.log(s) / s) * v1


def gauss(rng: SeedRandom, num_samples: int = NUM_SAMPLES, noise: float = 0.0) -> list[tuple[float, float, float]]:
    """``classifyTwoGaussData``: two Gaussians at (2, 2) (+1) and (-2, -2) (-1); variance 0.5..4 with noise."""
    variance = 0.5 + (4 - 0.5) * noise / 0.5  # d3.scale.linear().domain([0, .5]).range([0.5, 4])
    points = []
    for cx, cy, label in ((2, 2, 1.0), (-2, -2, -1.0)):
        for _ in range(int(math.ceil(num_samples / 2))):
            x = _normal(rng, cx, variance)
            y = _normal(rng, cy, variance)
            points.append((x, y, label))
    return points


def spiral(rng: SeedRandom, num_samples: int = NUM_SAMPLES, noise: float = 0.0) -> list[tuple[float, float, float]]:
    """``classifySpiralData``: two interleaved spirals of n / 2 points; 2 draws a point (noise x, y)."""
    n = num_samples / 2
    points = []
    for delta, label in ((0.0, 1.0), (math.pi, -1.0)):
        for i in range(int(math.ceil(n))):
            r = i / n * 5
            t = 1.75 * i / n * 2 * math.pi + delta
            x = r * math.sin(t) + rng.uniform(-1, 1) * noise
            y = r * math.cos(t) + rng.uniform(-1, 1) * noise
            points.append((x, y, label))
    return points


GENERATORS = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral}


def shuffle(items: list, rng: SeedRandom) -> None:
    """dataset.ts ``shuffle``: Fisher-Yates from the end, in place; one draw per element (n draws)."""
    counter = len(items)
    while counter > 0:
        index = math.floor(rng.random() * counter)
        counter -= 1
        items[counter], items[index] = items[index], items[counter]


def make_playground_data(
    name: str = "circle",
    seed: str = "0.65409",
    num_samples: int = NUM_SAMPLES,
    noise: float = 0.0,
    perc_train: float = PERC_TRAIN,
) -> PlaygroundData:
    """The Playground's ``generateData``: seed, draw, shuffle once, split.

    Args:
        name: 'circle', 'xor', 'gauss' or 'spiral'.
        seed: the URL's seed string (the course: "0.65409" for the first demo, "0.6" for the second).
        num_samples: 500 in the Playground.
        noise: the noise slider divided by 100 (0 to 0.5).
        perc_train: percent of the shuffled points used for training, taken from the front.

    Returns:
        The split data and the generator, positioned where the network's weight draws begin.
    """
    if name not in GENERATORS:
        raise ValueError(f"unknown Playground data set '{name}'; choose one of {', '.join(GENERATORS)}")
    rng = SeedRandom(seed)
    points = GENERATORS[name](rng, num_samples, noise)
    shuffle(points, rng)
    split = math.floor(len(points) * perc_train / 100)
    array = np.asarray(points, dtype=np.float64)
    return PlaygroundData(
        x_train=array[:split, :2],
        y_train=array[:split, 2],
        x_test=array[split:, :2],
        y_test=array[split:, 2],
        rng=rng,
        seed=str(seed),
        name=name,
    )
