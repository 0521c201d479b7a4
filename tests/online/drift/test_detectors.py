"""ADWIN and Page-Hinkley: a shift in the mean is detected soon after it happens, a stationary
signal raises no alarm, and standardised input makes the settings independent of the scale."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.online.drift import ADWIN, DriftDetector, PageHinkley, Standardised


def _first_alarm(detector: DriftDetector, values: np.ndarray) -> int | None:
    for i, value in enumerate(values.tolist()):
        if detector.update(value):
            return i
    return None


@pytest.mark.parametrize("make", [lambda: ADWIN(clock=4), lambda: PageHinkley(threshold=8, tolerance=0.5)])
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_a_mean_shift_is_found_soon_and_noise_is_not(make: object, scale: float) -> None:
    rng = np.random.default_rng(7)
    before = rng.normal(0.1, 0.02, 400) * scale + 500 * scale  # e.g. an error rate of 0.1, or prices
    after = rng.normal(0.16, 0.02, 200) * scale + 500 * scale
    quiet = Standardised(make(), warmup=30)  # type: ignore[operator]
    assert _first_alarm(quiet, before) is None
    alarm = _first_alarm(quiet, after)
    assert alarm is not None and alarm < 60


def test_page_hinkley_sees_a_decrease_too() -> None:
    rng = np.random.default_rng(3)
    detector = Standardised(PageHinkley(), warmup=30)
    assert _first_alarm(detector, rng.normal(0.3, 0.02, 300)) is None
    assert _first_alarm(detector, rng.normal(0.2, 0.02, 100)) is not None


def test_adwin_drops_the_old_concept_from_its_window() -> None:
    rng = np.random.default_rng(5)
    adwin = ADWIN(clock=1)
    for value in rng.normal(0.0, 1.0, 300).tolist():
        adwin.update(value)
    width = adwin.width
    fired = [adwin.update(v) for v in rng.normal(4.0, 1.0, 100).tolist()]
    assert any(fired) and adwin.width < width


def test_adwin_on_mini_batches_cuts_at_a_batch_boundary_and_keeps_its_window_bounded() -> None:
    rng = np.random.default_rng(9)
    adwin = ADWIN(max_window=2048)
    assert not any(adwin.update_many(rng.normal(0.1, 0.3, 256)) for _ in range(20))
    assert adwin.width == 2048  # the last eight batches
    fired = [adwin.update_many(rng.normal(0.4, 0.3, 256)) for _ in range(3)]
    assert fired[0] or fired[1]
    assert adwin.width % 256 == 0 and adwin.width <= 3 * 256  # the old concept's batches are gone
