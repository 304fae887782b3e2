"""The interactive page: its paths come from the optimizer classes, and it
works in a real browser from disk with no network."""

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageChops

import custom_optimizers as co
from experiments import explorer
from experiments.landscapes import page, surfaces, theory
from experiments.landscapes.paths import trajectory

pytestmark = pytest.mark.slow  # sweeps, subprocesses, Ray or a browser

SMALL = ["--problems", "saddle,rosenbrock", "--learning-rates", "0.01,0.1",
         "--steps", "20"]  # fmt: skip


def test_each_stored_path_is_the_optimizer_s_own():
    paths = page.compute_paths(["saddle"], ["sgd", "momentum"], [0.01, 0.1], 20)
    assert len(paths) == 3 * 2 + 3 * 2 * len(page.BETAS)
    stored = paths[page.key("saddle", "momentum", 0.1, 0.5, 1)]
    optimizer = co.get("momentum", learning_rate=0.1, momentum=0.5)
    alone = trajectory(surfaces.SURFACES["saddle"], optimizer, 20,
                          surfaces.SURFACES["saddle"].starts[1])  # fmt: skip
    np.testing.assert_array_equal(stored[0], alone[0])
    np.testing.assert_array_equal(stored[1], alone[1])
    plain = paths[page.key("saddle", "sgd", 0.01, None, 2)]
    np.testing.assert_array_equal(
        plain[0], trajectory(surfaces.SURFACES["saddle"], co.get("sgd", learning_rate=0.01),
                                20, surfaces.SURFACES["saddle"].starts[2])[0]
    )  # fmt: skip


def test_the_learning_rate_grid_has_13_points_from_1e_3_to_1_with_0_1():
    rates = page.LEARNING_RATES
    assert len(rates) >= 13 and rates[0] == 1e-3 and rates[-1] == 1 and 0.1 in rates
    np.testing.assert_allclose(np.diff(np.log10(rates)), 0.25, atol=2e-3)


def test_the_textbook_rates_on_the_ravine():
    """Goh's optima are the minima of the step map's spectral radius."""
    mu, big_l = surfaces.RAVINE_SLOW_CURVATURE, surfaces.RAVINE_CURVATURE
    kappa, curvatures = big_l / mu, (mu, big_l)
    etas = np.linspace(0.01, 0.25, 2401)
    rates = [theory.contraction(eta, 0.0, curvatures) for eta in etas]
    assert etas[int(np.argmin(rates))] == pytest.approx(2 / (big_l + mu), abs=1e-4)
    assert min(rates) == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-4)
    assert theory.contraction(0.2001, 0.0, curvatures) > 1  # η > 2/L diverges
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    eta = (2 / (math.sqrt(big_l) + math.sqrt(mu))) ** 2
    best = theory.contraction(eta, beta, curvatures)
    assert best == pytest.approx(math.sqrt(beta), rel=1e-3)
    for other in ((eta * 0.9, beta), (eta, beta + 0.05), (eta * 0.8, beta - 0.1)):
        assert theory.contraction(*other, curvatures) > best


def test_measured_steps_count_until_the_loss_stays_below_the_tolerance():
    losses = [5.0, 1e-7, 2e-6, 5e-7, 1e-8]  # dips below, comes back, stays
    assert theory.steps_to_tolerance(losses, 4) == 3
    assert theory.steps_to_tolerance(losses[:3], 2) is None  # above at the end
    assert theory.steps_to_tolerance(losses[:3], 4) is None  # ended early


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert explorer.main(["--problems", "himmelblau", "--out", str(out)]) == 2
    assert "unknown problem 'himmelblau'; allowed: ravine" in capsys.readouterr().err
    assert explorer.main(["--steps", "0", "--out", str(out)]) == 2
    assert "--steps must be an integer >= 1, got '0'" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture(scope="module")
def small_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer")
    assert explorer.main([*SMALL, "--out", str(out)]) == 0
    return out / "index.html"


def test_the_page_loads_nothing_from_elsewhere(small_page):
    text = small_page.read_text()
    tags = re.findall(r"<(?:script|link)\b[^>]*>", text)
    assert len(tags) >= 3  # Bokeh's bundles and the page's own script
    assert not [t for t in tags if re.search(r"(src|href)\s*=", t)]
    assert "Bokeh" in text and len(text) > 1_000_000  # its library, inlined


CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `apt-get install chromium` (Debian) runs "
    "the browser checks of the explorer page",
)


def page_requests(net_log):
    """The network requests a page made, from Chromium's net log.

    A page opened from disk requests with a network isolation key of
    file://; Chromium's own services (clock, updates, sign-in), which it
    calls for about:blank too, have none.
    """
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start
        and "file://" in event["params"].get("network_isolation_key", "")
        and not event["params"]["url"].startswith("file:")
    ]


def chromium(url, tmp_path, *action):
    """Headless Chromium on `url`; fails if the page asked the network for anything.

    Every request goes to a closed port on loopback, so none leaves the
    machine, and Chromium's net log says which ones the page made.
    """
    net_log = tmp_path / "net-log.json"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--proxy-server=127.0.0.1:9", f"--log-net-log={net_log}",
         "--window-size=1400,1000", "--virtual-time-budget=10000", *action, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert page_requests(net_log) == [], "the page asked the network for something"
    return result.stdout


@needs_chromium
def test_the_network_check_sees_a_page_s_requests(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<img src="http://example.invalid/x.png"><p>hi</p>')
    with pytest.raises(AssertionError, match="asked the network"):
        chromium(f"file://{page}", tmp_path, "--dump-dom")
    assert page_requests(tmp_path / "net-log.json") == ["http://example.invalid/x.png"]


def status(dom):
    return re.search(r'<p id="status">(.*?)</p>', dom, re.S).group(1)


@needs_chromium
def test_a_learning_rate_in_the_url_changes_the_drawn_paths(small_page, tmp_path):
    url = f"file://{small_page}?problem=rosenbrock&beta=0.5&start=2"
    shown = {}
    for rate in ("0.01", "0.1"):
        dom = chromium(f"{url}&lr={rate}", tmp_path, "--dump-dom")
        shown[rate] = status(dom)
        assert shown[rate].startswith(
            f"rosenbrock, η = {rate}, β = 0.5, start 2, step 20"
        )
        # Each optimizer's last loss as the page shows it, from the same paths.
        for name in page.OPTIMIZERS:
            beta = 0.5 if name in page.WITH_BETA else None
            positions, losses = page.compute_paths(
                ["rosenbrock"], [name], [float(rate)], 20
            )[page.key("rosenbrock", name, float(rate), beta, 1)]
            lowest = surfaces.SURFACES["rosenbrock"].lowest
            expected = (
                f"{name}: diverged at step {len(losses)}" if len(losses) < 21
                else f"{name}: f − lowest = {_precision3(losses[-1] - lowest)} at step 20"
            )  # fmt: skip
            assert expected in shown[rate], (expected, shown[rate])
    assert shown["0.01"].split(":", 1)[1] != shown["0.1"].split(":", 1)[1]
    pictures = []
    for rate in ("0.01", "0.1"):
        picture = tmp_path / f"lr={rate}.png"
        chromium(f"{url}&lr={rate}", tmp_path, f"--screenshot={picture}")
        pictures.append(Image.open(picture).convert("RGB"))
    plot_area = (260, 120, 1400, 560)
    difference = ImageChops.difference(*(p.crop(plot_area) for p in pictures))
    assert difference.getbbox() is not None  # the paths were drawn differently


def _precision3(value):
    """JavaScript's toPrecision(3) of the float32 number the page holds."""
    value = float(np.float32(max(value, page.LOSS_FLOOR)))
    mantissa, exponent = f"{value:.2e}".split("e")
    exponent = int(exponent)
    if exponent < -6 or exponent >= 3:
        return f"{mantissa}e{exponent:+d}"
    return f"{value:.{2 - exponent}f}"


def test_the_page_builds_without_bokeh_validation_errors(caplog):
    paths = page.compute_paths(["saddle"], page.OPTIMIZERS, [0.1], 5)
    text = page.page(paths, None, ["saddle"], page.OPTIMIZERS, [0.1], 5)
    assert "saddle|adam|0.1|-|0" in text
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


@needs_chromium
def test_play_animates_the_steps(small_page, tmp_path):
    """From step 0, play advances the step slider (50 ms a step) to the end."""
    url = f"file://{small_page}?problem=saddle&step=0"
    assert ", step 0: " in status(chromium(url, tmp_path, "--dump-dom"))
    played = status(chromium(f"{url}&play=1", tmp_path, "--dump-dom"))
    assert ", step 20: " in played  # 10 s of virtual time is ample for 20 steps


def test_more_steps_than_the_page_can_hold_exit_2(tmp_path, capsys):
    assert explorer.main(["--steps", "100000000", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --steps must be at most ") and err.count("\n") == 1
