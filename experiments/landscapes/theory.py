"""The textbook beside the measurement on the ravine: gradient descent's and
heavy-ball momentum's predicted steps (Goh 2017) next to the steps the
library's classes took."""

import math

import numpy as np

from experiments.landscapes import surfaces
from experiments.landscapes.paths import at_rates

TOLERANCE = 1e-6  # the ravine's f* is 0: "converged" once f stays below this


def steps_to_tolerance(losses, steps):
    """Steps after which the loss stays below TOLERANCE; None if it never does."""
    above = np.flatnonzero(np.asarray(losses) >= TOLERANCE)
    if len(losses) < steps + 1 or (len(above) and above[-1] == steps):
        return None
    return 0 if not len(above) else int(above[-1]) + 1


def contraction(rate, beta, curvatures):
    """How much θ − θ* shrinks per step, asymptotically, on a quadratic.

    Per curvature λ, heavy-ball momentum (β = 0: gradient descent) is the
    linear map (θ_k, θ_k−1) → ((1 + β − ηλ)θ_k − βθ_k−1, θ_k); its spectral
    radius is the rate, and the slowest direction sets the pace.
    """
    return max(
        max(abs(np.linalg.eigvals([[1 + beta - rate * curvature, -beta], [1, 0]])))
        for curvature in curvatures
    )


def predictedsteps_text(rate, beta, curvatures, start_loss):
    """Steps for f to fall from `start_loss` below TOLERANCE at that rate; None: never."""
    shrink = contraction(rate, beta, curvatures)
    if shrink >= 1:
        return None
    return math.ceil(math.log(TOLERANCE / start_loss) / (2 * math.log(shrink)))


def ravine_theory(steps=2000):
    """The textbook's predictions on the ravine beside what the real optimizers did.

    Goh (2017), "Why Momentum Really Works", for curvatures μ ≤ L,
    κ = L/μ: gradient descent converges for 0 < η < 2/L and is fastest at
    η = 2/(L + μ), where θ − θ* shrinks by (κ − 1)/(κ + 1) a step;
    heavy-ball momentum (his z ← βz + ∇f, w ← w − αz is the library's
    m ← βm + ηg with α = η) is fastest at β = ((√κ − 1)/(√κ + 1))² and
    η = (2/(√L + √μ))², with rate (√κ − 1)/(√κ + 1). Returns those numbers
    and `rows` of (optimizer, η, β, predicted steps, measured steps), with
    None where it never gets there (predicted: diverges).
    """
    mu, big_l = surfaces.RAVINE_SLOW_CURVATURE, surfaces.RAVINE_CURVATURE
    kappa = big_l / mu
    problem = surfaces.SURFACES["ravine"]
    start_loss = float(problem.function(*problem.start))
    gd_best = 2 / (big_l + mu)
    gd_rate = (kappa - 1) / (kappa + 1)
    momentum_rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    beta_best = momentum_rate**2
    eta_best = (2 / (math.sqrt(big_l) + math.sqrt(mu))) ** 2

    def measured(name, rates, **hyperparameters):
        paths = at_rates(problem, name, rates, steps, [problem.start],
                            **hyperparameters)  # fmt: skip
        return {
            rate: steps_to_tolerance(ends[0][1], steps) for rate, ends in paths.items()
        }

    curvatures = (mu, big_l)
    rows = []

    def add(name, beta, found):
        for rate, steps_taken in found.items():
            predicted = predictedsteps_text(rate, beta, curvatures, start_loss)
            rows.append((name, rate, beta, predicted, steps_taken))

    gd_rates = [0.05, 0.1, 0.15, 0.18, 0.19, 0.195, round(gd_best, 4), 0.2, 0.21]
    add("gradient descent", 0.0, measured("sgd", gd_rates))
    for beta in (0.0, 0.5, 0.6, 0.65, round(beta_best, 4), 0.7, 0.75, 0.8, 0.9, 0.99):
        add("momentum", beta, measured("momentum", [round(eta_best, 4)], momentum=beta))
    add("momentum", round(beta_best, 4),
        measured("momentum", [0.25, 0.3, 0.36, 0.4], momentum=round(beta_best, 4)))  # fmt: skip
    return {
        "mu": mu, "L": big_l, "kappa": kappa, "start_loss": start_loss,
        "gd_limit": 2 / big_l, "gd_best": gd_best, "gd_rate": gd_rate,
        "beta_best": beta_best, "eta_best": eta_best, "momentum_rate": momentum_rate,
        "rows": rows, "steps": steps,
    }  # fmt: skip


def theory_lines(theory):
    """The comparison as plain text lines (the command prints them)."""
    t = theory
    lines = [
        f"ravine: μ = {t['mu']:g}, L = {t['L']:g}, κ = {t['kappa']:g}; f from "
        f"{t['start_loss']:g} to below {TOLERANCE:g}, at most {t['steps']} steps",
        f"gradient descent: converges for η < 2/L = {t['gd_limit']:g}, fastest at "
        f"η = 2/(L + μ) = {t['gd_best']:.4g} (rate {t['gd_rate']:.4g} a step)",
        f"momentum: fastest at β = {t['beta_best']:.4g}, η = {t['eta_best']:.4g} "
        f"(rate {t['momentum_rate']:.4g} a step)",
        f"{'optimizer':17} {'η':>7} {'β':>6} {'predicted steps':>16} {'measured':>9}",
    ]
    for name, rate, beta, predicted, found in t["rows"]:
        lines.append(
            f"{name:17} {rate:7.4g} {beta:6.4g} {steps_text(predicted, 'diverges'):>16} "
            f"{steps_text(found, 'never'):>9}"
        )
    return lines


def steps_text(count, otherwise):
    return otherwise if count is None else str(count)
