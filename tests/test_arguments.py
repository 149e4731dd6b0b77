"""Arguments are checked where they enter, before any work, with messages that name them."""

import numpy as np
import pytest
from astropy.nddata import CCDData

import astromask

FRAME = CCDData(np.random.default_rng(0).normal(100.0, 5.0, (420, 410)), unit="adu")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: astromask.probabilities(FRAME, device="nope"), ValueError, "device: expected"),
        (lambda: astromask.tracking_score(FRAME, device="gpu-0"), ValueError, "device: expected"),
        (lambda: astromask.track(FRAME, prior="0.1"), ValueError, r"prior: expected a number"),
        (lambda: astromask.tracking_score(FRAME, batch_size="x"), ValueError, "batch_size:"),
        (
            lambda: astromask.cosmicray_deepcr(FRAME, device="nope"),
            ValueError,
            "device: expected",
        ),
        (lambda: astromask.cosmicray_deepcr(FRAME, satlevel="x"), TypeError, "satlevel:"),
        (lambda: astromask.cosmicray_deepcr(FRAME, pssl="x"), TypeError, "pssl: expected"),
        (
            lambda: astromask.cosmicray_deepcr(FRAME, dilate=float("nan")),
            ValueError,
            "dilate: expected",
        ),
        (lambda: astromask.cosmicray_deepcr(FRAME, dilate=-1), ValueError, "dilate: expected"),
        (lambda: astromask.cosmicray_deepcr(FRAME, gain=None), TypeError, "gain: expected"),
        (lambda: astromask.cosmicray_deepcr(FRAME, gain=[1, 2]), TypeError, "gain: expected"),
        (lambda: astromask.cosmicray_deepcr(FRAME, threshold="0.5"), ValueError, "threshold:"),
        (lambda: astromask.cosmicray_maximask(FRAME, prior=[0.1]), ValueError, "prior:"),
        (lambda: astromask.cosmicray_maximask(FRAME, threshold="x"), ValueError, "threshold:"),
        (
            lambda: astromask.inpaint(FRAME, mask="CR"),
            TypeError,
            r"mask: expected a bool array .*decode_flags",
        ),
        (lambda: astromask.inpaint(FRAME, mask=0.5), TypeError, "mask: expected a bool array"),
    ],
)
def test_a_bad_argument_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_input_is_left_alone_when_refused():
    before = FRAME.data.copy()
    with pytest.raises(TypeError):
        astromask.inpaint(FRAME, mask="CR")
    np.testing.assert_array_equal(FRAME.data, before)
    assert FRAME.mask is None
