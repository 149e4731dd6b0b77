"""MaxiMask with astromask's background estimate and the header's data section."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

import astromask
from astromask import classes

pytestmark = pytest.mark.remote_data


@pytest.mark.parametrize("pedestal", [0.0, 2500.0])
@pytest.mark.parametrize("size", [512, 1024])
def test_pure_noise_is_background(size, pedestal):
    # Issue 20's target: every class but BG on at most 0.1 % of the pixels.
    # Upstream's estimate made 17.5 % (27 % with the pedestal) BBG at 512.
    rng = np.random.default_rng(size)
    frame = (rng.normal(1000.0, 20.0, (size, size)) + pedestal).astype(np.float32)
    flagged = astromask.flag(frame, progress=False)
    assert (flagged.flags != 0).mean() <= 1e-3
    assert flagged.meta["AMBKG"] == "astromask"
    if size == 512:
        before = astromask.flag(frame, progress=False, background="maximask")
        assert (before.flags != 0).mean() > 0.05
        assert before.meta["AMBKG"] == "maximask"


def test_parity_mode_keeps_upstream_preprocessing():
    rng = np.random.default_rng(0)
    frame = rng.normal(1000.0, 20.0, (400, 400)).astype(np.float32)
    parity = astromask.probabilities(frame, tiling="maximask", progress=False)
    explicit = astromask.probabilities(
        frame, tiling="maximask", background="maximask", section=None, progress=False
    )
    np.testing.assert_array_equal(parity, explicit)
    with pytest.raises(ValueError, match="background: expected one of"):
        astromask.flag(frame, background="sextractor")


def test_raw_frame_flags_its_data_section_and_overscan_is_ov(realdata):
    with fits.open(realdata / "lco1m_fa05_raw_mef.fits") as hdul:
        data, header = hdul[2].data.astype(np.float32), hdul[2].header.copy()
    ccd = CCDData(data, unit="adu", meta=header)  # DATASEC [1:512,1:512] of 544x522
    flagged = astromask.flag(ccd, progress=False)
    assert flagged.meta["AMSECT"] == "[1:512,1:512]"
    ov = classes.decode_flags(flagged.flags, "OV")
    outside = np.ones(data.shape, bool)
    outside[:512, :512] = False
    assert ov[outside].all() and flagged.mask[outside].all()
    assert ov[~outside].mean() < 0.01
    # The data section alone, flagged as a trimmed frame, gives the same flags.
    trimmed = astromask.flag(CCDData(data[:512, :512], unit="adu"), progress=False)
    np.testing.assert_array_equal(flagged.flags[:512, :512], trimmed.flags)
    whole = astromask.flag(ccd, section=None, progress=False)
    assert "AMSECT" not in whole.meta or whole.meta["AMSECT"] == "[1:544,1:522]"
