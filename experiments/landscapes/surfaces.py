"""The 2-D problems the optimizers are watched on: f(θ₁, θ₂) in keras.ops, so
autodiff gives ∇f, with their start points, known minima and plot extent."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Surface:
    """f(θ) on the plane, written in keras.ops so autodiff gives ∇f."""

    name: str
    function: object  # (x, y) -> loss
    starts: tuple  # start points: its own first, then the explorer's others
    minima: tuple  # known minima (or the saddle point), marked on the plot
    extent: tuple  # (x_min, x_max, y_min, y_max) of the plot
    gradient_noise: float = 0.0  # std of noise added to ∇f, as mini-batches give

    @property
    def start(self):
        return self.starts[0]

    @property
    def lowest(self):
        """f at the best marked point: the loss plot shows f − lowest, on a log axis."""
        return min(float(self.function(x, y)) for x, y in self.minima)

    def grid(self, points):
        """(x, y, f) on a `points` × `points` grid over the plot's extent."""
        x_min, x_max, y_min, y_max = self.extent
        grid_x, grid_y = np.meshgrid(
            np.linspace(x_min, x_max, points), np.linspace(y_min, y_max, points)
        )
        return grid_x, grid_y, self.function(grid_x, grid_y)


def _ravine(x, y):
    return 0.5 * (RAVINE_SLOW_CURVATURE * x**2 + RAVINE_CURVATURE * y**2)


def _rosenbrock(x, y):
    # b = 10 instead of the usual 100: the same curved valley, on which the
    # learning rates that suit the other problems do not all blow up at once.
    return (1 - x) ** 2 + 10 * (y - x**2) ** 2


def _beale(x, y):
    return (
        (1.5 - x + x * y) ** 2
        + (2.25 - x + x * y**2) ** 2
        + (2.625 - x + x * y**3) ** 2
    )


def _saddle(x, y):
    return x**2 + y**4 / 4 - y**2 / 2  # saddle at (0, 0), minima at (0, ±1)


def _double_well(x, y):
    # Two valleys along θ₁, the left one lower: a local minimum beside the global.
    return (x**2 - 1) ** 2 + DOUBLE_WELL_TILT * x + 0.5 * y**2


DOUBLE_WELL_TILT = 0.3
# Roots of f' = 4x³ − 4x + 0.3: the global minimum, the barrier's top, the local minimum.
DOUBLE_WELL_GLOBAL, DOUBLE_WELL_BARRIER, DOUBLE_WELL_LOCAL = (
    -1.0355787140888542,
    0.0754291585697482,
    0.9601495555191059,
)
RAVINE_CURVATURE = (
    10.0  # L, the largest curvature: gradient descent diverges for η > 2/L
)
RAVINE_SLOW_CURVATURE = (
    0.1  # along the ravine's floor; L / 0.1 = 100 is its condition number
)
RAVINE_STARTS = ((-4.0, 1.0), (4.5, -1.5), (-1.0, 1.8))
SURFACES = {
    s.name: s
    for s in [
        Surface("ravine", _ravine, RAVINE_STARTS, ((0.0, 0.0),), (-5, 5, -2, 2)),
        Surface(
            "rosenbrock",
            _rosenbrock,
            ((-1.5, 2.0), (1.8, 0.0), (-0.5, -0.5)),
            ((1.0, 1.0),),
            (-2, 2, -1, 3),
        ),
        Surface(
            "beale",
            _beale,
            ((1.0, 1.4), (3.5, 1.5), (0.0, -1.0)),
            ((3.0, 0.5),),
            (-1, 4, -1.5, 2),
        ),
        Surface(
            "saddle",
            _saddle,
            ((-1.5, 1e-3), (1.5, 0.2), (-1.0, -0.5)),
            ((0.0, 1.0), (0.0, -1.0), (0.0, 0.0)),
            (-2, 2, -1.6, 1.6),
        ),
        Surface(
            "double_well",
            _double_well,
            ((2.0, 0.5), (-1.8, 1.0), (0.5, -1.0)),
            ((DOUBLE_WELL_GLOBAL, 0.0), (DOUBLE_WELL_LOCAL, 0.0)),
            (-2, 2.5, -1.5, 1.5),
        ),
        Surface(
            "noisy_ravine",
            _ravine,
            RAVINE_STARTS,
            ((0.0, 0.0),),
            (-5, 5, -2, 2),
            gradient_noise=2.0,
        ),
    ]
}
