"""cosmicray_deepcr / cosmicray_maximask as drop-ins for ccdproc.cosmicray_lacosmic."""

import inspect
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty
from astropy.utils.exceptions import AstropyUserWarning
from ccdproc import cosmicray_lacosmic

from astromask import cosmicray_deepcr, cosmicray_maximask
from astromask.simulate import simulated_frame

pytestmark = pytest.mark.remote_data

DROP_INS = [cosmicray_deepcr, cosmicray_maximask]


@pytest.fixture(scope="module")
def frame():
    ccd, truth = simulated_frame((400, 400), seed=11)
    ccd.uncertainty = StdDevUncertainty(np.sqrt(np.abs(ccd.data) + 25.0))
    return ccd, truth


def test_signature_starts_with_lacosmic_arguments():
    """Every cosmicray_lacosmic argument, same order, same defaults."""
    reference = list(inspect.signature(cosmicray_lacosmic).parameters.values())
    for function in DROP_INS:
        params = list(inspect.signature(function).parameters.values())
        assert [(p.name, p.default) for p in params[: len(reference)]] == [
            (p.name, p.default) for p in reference
        ]
        assert all(p.kind == p.KEYWORD_ONLY for p in params[len(reference) :])


def lacosmic_script(cosmicray, ccd, array):
    """A reduction step written for ccdproc; only the function name changes."""
    cleaned = cosmicray(
        ccd,
        sigclip=5,
        sigfrac=0.3,
        objlim=5.0,
        gain=1.5,
        readnoise=5.0,
        satlevel=65535.0,
        niter=4,
        cleantype="meanmask",
        verbose=False,
    )
    data, crmask = cosmicray(array, sigclip=5, gain=1.5, readnoise=5.0)
    return cleaned, data, crmask


@pytest.mark.parametrize("cosmicray", [cosmicray_lacosmic, *DROP_INS])
def test_a_lacosmic_script_runs_unchanged(frame, cosmicray):
    ccd, truth = frame
    before = ccd.copy()
    array = np.array(ccd.data)
    array_before = array.copy()
    if cosmicray is cosmicray_lacosmic:
        cleaned, data, crmask = lacosmic_script(cosmicray, ccd, array)
    else:  # sigclip=5 is L.A. Cosmic's tuning: one warning per call names it
        with warnings.catch_warnings(record=True) as caught:  # the backend may warn too
            warnings.simplefilter("always")
            cleaned, data, crmask = lacosmic_script(cosmicray, ccd, array)
        ours = [
            w
            for w in caught
            if issubclass(w.category, AstropyUserWarning) and "sigclip tune" in str(w.message)
        ]
        assert len(ours) == 2

    # Return types and units as ccdproc.
    assert isinstance(cleaned, CCDData)
    assert cleaned.unit == u.electron
    assert cleaned.mask.dtype == bool and cleaned.mask.shape == ccd.shape
    assert isinstance(data, np.ndarray) and data.shape == array.shape
    assert isinstance(crmask, np.ndarray) and crmask.dtype == bool
    # Inputs untouched.
    np.testing.assert_array_equal(ccd.data, before.data)
    assert ccd.mask is None and ccd.unit == u.adu
    np.testing.assert_array_equal(ccd.uncertainty.array, before.uncertainty.array)
    np.testing.assert_array_equal(array, array_before)
    # The simulated hits are found and cleaned (gain applied: data in electrons).
    found = (cleaned.mask & truth["CR"]).sum() / truth["CR"].sum()
    assert found > 0.5
    clean_pixels = ~cleaned.mask
    np.testing.assert_allclose(cleaned.data[clean_pixels], 1.5 * ccd.data[clean_pixels], rtol=1e-6)
    assert np.median(cleaned.data[truth["CR"] & cleaned.mask]) < np.median(
        1.5 * ccd.data[truth["CR"] & cleaned.mask]
    )


@pytest.mark.parametrize("cosmicray", [cosmicray_lacosmic, *DROP_INS])
def test_default_gain_gives_electrons_like_ccdproc(frame, cosmicray):
    """gain=1 (electron / adu) applied: the values stay, the unit becomes electron."""
    ccd, _ = frame
    out = cosmicray(ccd)
    assert out.unit == u.electron
    np.testing.assert_allclose(out.data[~out.mask], ccd.data[~out.mask], rtol=1e-6)


@pytest.mark.parametrize("cosmicray", DROP_INS)
def test_gain_apply_false_keeps_unit_and_values(frame, cosmicray):
    """ccdproc 2.5 relabels the unit to electron here; the drop-ins do not."""
    ccd, _ = frame
    out = cosmicray(ccd, gain=2.0, gain_apply=False)
    assert out.unit == u.adu
    np.testing.assert_array_equal(out.data[~out.mask], ccd.data[~out.mask])
    np.testing.assert_array_equal(out.uncertainty.array, ccd.uncertainty.array)


def test_gain_apply_scales_uncertainty(frame):
    ccd, _ = frame
    out = cosmicray_deepcr(ccd, gain=2.0 * u.electron / u.adu)
    assert out.unit == u.electron
    np.testing.assert_allclose(out.uncertainty.array, 2.0 * ccd.uncertainty.array)
    var = ccd.copy()
    var.uncertainty = VarianceUncertainty(ccd.uncertainty.array**2)
    out = cosmicray_deepcr(var, gain=2.0, inpaint=None)
    np.testing.assert_allclose(out.uncertainty.array, 4.0 * var.uncertainty.array, rtol=1e-6)


def test_electron_data_refuse_a_second_gain(frame):
    ccd, _ = frame
    electrons = CCDData(ccd.data * 1.5, unit="electron")
    with pytest.raises(ValueError, match="already in electron"):
        cosmicray_deepcr(electrons, gain=1.5)
    out = cosmicray_deepcr(electrons)  # gain 1 (the default) is fine
    assert out.unit == u.electron
    with pytest.raises(ValueError, match="does not turn data"):
        cosmicray_deepcr(CCDData(ccd.data, unit="Jy"), gain=2.0)


@pytest.mark.parametrize("cosmicray", DROP_INS)
def test_masked_and_saturated_pixels_are_left_alone(frame, cosmicray):
    ccd, truth = frame
    hits = np.argwhere(truth["CR"])
    y, x = hits[len(hits) // 2]
    masked = ccd.copy()
    masked.mask = np.zeros(ccd.shape, bool)
    masked.mask[y - 3 : y + 4, x - 3 : x + 4] = True
    out = cosmicray(masked, gain=1.0)
    box = (slice(y - 3, y + 4), slice(x - 3, x + 4))
    np.testing.assert_array_equal(out.data[box], ccd.data[box])  # not changed
    assert out.mask[box].all()  # still masked (input mask kept)
    # Saturated: nothing at or above satlevel is flagged or changed.
    satlevel = float(np.percentile(ccd.data[truth["CR"]], 20))
    data, crmask = cosmicray(np.array(ccd.data), satlevel=satlevel, gain_apply=False)
    high = ccd.data >= satlevel
    assert not crmask[high].any()
    np.testing.assert_array_equal(data[high], ccd.data[high])


def test_dilate_grows_the_mask(frame):
    ccd, _ = frame
    _, plain = cosmicray_deepcr(np.array(ccd.data), inpaint=None)
    _, grown = cosmicray_deepcr(np.array(ccd.data), inpaint=None, dilate=2)
    assert plain.any() and (grown & plain).sum() == plain.sum()
    from scipy import ndimage

    expected = ndimage.binary_dilation(plain, np.ones((3, 3), bool), iterations=2)
    np.testing.assert_array_equal(grown, expected)
    with pytest.raises(ValueError, match="dilate"):
        cosmicray_deepcr(np.array(ccd.data), dilate=-1)


def test_inpaint_none_only_flags(frame):
    ccd, _ = frame
    out = cosmicray_deepcr(ccd, inpaint=None, gain_apply=False)
    np.testing.assert_array_equal(out.data, ccd.data)
    assert out.mask.any() and out.meta["AMCRNPIX"] == int(out.mask.sum())


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="CCDData or a numpy.ndarray"):
        cosmicray_deepcr([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="2-D real image"):
        cosmicray_deepcr(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="threshold"):
        cosmicray_deepcr(np.zeros((8, 8)), threshold=2)


def test_masked_array_mask_is_the_input_mask(frame):
    ccd, truth = frame
    data = np.ma.MaskedArray(np.array(ccd.data), mask=truth["CR"].copy())
    cleaned, crmask = cosmicray_deepcr(data, gain_apply=False)
    assert type(cleaned) is np.ndarray
    assert not crmask[truth["CR"]].any()  # masked on input: not flagged
    np.testing.assert_array_equal(cleaned[truth["CR"]], ccd.data[truth["CR"]])


@pytest.mark.parametrize("cosmicray", DROP_INS)
def test_ignored_lacosmic_tuning_is_named_in_one_warning(cosmicray):
    # checked before anything runs: an invalid threshold stops the call after the warning
    image = np.zeros((8, 8), np.float32)
    name = cosmicray.__name__
    with (
        pytest.warns(AstropyUserWarning, match=f"{name}: objlim, cleantype, inbkg tune") as caught,
        pytest.raises(ValueError, match="threshold"),
    ):
        cosmicray(image, objlim=2, cleantype="median", inbkg=image, threshold=2)
    ours = [w for w in caught if "tune L.A. Cosmic" in str(w.message)]
    assert len(ours) == 1 and "threshold" not in str(ours[0].message).split("tune")[0]
    with pytest.raises(ValueError, match="threshold"):  # defaults, readnoise, gain: no warning
        cosmicray(image, 4.5, 0.3, 5.0, 2.0, 3.0, psfk=None, sepmed=True, threshold=2)


def test_readme_chain_cleans_every_cosmic_ray_either_step_found(frame):
    # README: ccd = astromask.flag(ccd), then cosmicray_deepcr(ccd, ...).  The
    # pixels flag put in its CR class are cosmic rays for the drop-in too:
    # replaced, not skipped as masked; the other masked pixels stay as they are.
    import astromask

    ccd, truth = frame
    flagged = astromask.flag(ccd, progress=False)
    cr = astromask.decode_flags(flagged.flags, "CR")
    others = flagged.mask & ~cr
    assert (cr & ~others).sum() > 20  # the simulated hits are there to clean
    clean = cosmicray_deepcr(flagged, gain=1.5, readnoise=5.0, progress=False)
    unchanged = np.array(ccd.data, dtype=np.float32)
    unchanged *= 1.5
    assert np.all(clean.data[cr & ~others] != unchanged[cr & ~others])
    np.testing.assert_array_equal(clean.data[others], unchanged[others])
    assert np.all(clean.mask[flagged.mask])  # the input mask is kept whole
    assert clean.meta["AMCRNPIX"] >= (cr & ~others).sum()
    # Flags that astromask.flag did not make (no AMB_CR card) are not read:
    # their masked pixels stay as they are, as any masked pixel.
    foreign = flagged.copy()
    del foreign.meta["AMB_CR"]
    kept = cosmicray_deepcr(foreign, gain=1.5, readnoise=5.0, progress=False)
    np.testing.assert_array_equal(kept.data[flagged.mask], unchanged[flagged.mask])
