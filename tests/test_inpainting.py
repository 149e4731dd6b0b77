"""Inpainting: only the chosen pixels change, and the estimates are sensible."""

import numpy as np
import pytest
from astropy.nddata import CCDData

import astromask
from astromask.inpainting import inpaint_array, inpaint_methods, masked_median


def _sky(shape=(64, 80), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    star = 3000 * np.exp(-((yy - 30) ** 2 + (xx - 40) ** 2) / (2 * 1.5**2))
    return (200 + star + rng.normal(0, 5, shape)).astype(np.float32)


def _hits(shape=(64, 80)):
    hit = np.zeros(shape, dtype=bool)
    hit[10, 5:12] = True
    hit[40:43, 60] = True
    hit[30, 41] = True  # on the star
    return hit


@pytest.mark.parametrize("method", ["medmask", "gaussian"])
def test_only_masked_pixels_change(method):
    image = _sky()
    original = image.copy()
    hit = _hits()
    out = inpaint_array(image, hit, method=method)
    np.testing.assert_array_equal(image, original)  # input untouched
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[~hit], image[~hit])
    # Sky pixels come back near the sky level (noise 5).
    sky_hits = hit.copy()
    sky_hits[30, 41] = False
    assert np.all(np.abs(out[sky_hits] - 200) < 20)
    # The pixel on the star takes a star-like value, far above the sky.
    assert out[30, 41] > 1000


def test_medmask_is_the_masked_box_median():
    image = np.arange(49, dtype=np.float64).reshape(7, 7)
    fill = np.zeros((7, 7), bool)
    fill[3, 3] = True
    bad = np.zeros((7, 7), bool)
    bad[1, 1] = True  # excluded from the box as well
    good = ~fill & ~bad
    box = image[1:6, 1:6][good[1:6, 1:6]]
    np.testing.assert_array_equal(masked_median(image, fill, good), [np.median(box)])
    out = inpaint_array(image, fill, bad=bad, method="medmask")
    assert out[3, 3] == np.median(box)
    assert out.dtype == np.float64


def test_holes_wider_than_the_kernel_are_filled():
    image = np.full((60, 60), 7.0)
    fill = np.zeros((60, 60), bool)
    fill[10:40, 20:35] = True  # 15 px wide: no good pixel in a 5x5 box at the centre
    for method in ("medmask", "gaussian"):
        out = inpaint_array(image, fill, method=method)
        np.testing.assert_allclose(out[fill], 7.0)


def test_non_finite_pixels_are_never_sources():
    image = np.full((20, 20), 10.0)
    image[5, 6] = np.nan
    image[6, 5] = np.inf
    fill = np.zeros((20, 20), bool)
    fill[5, 5] = True
    for method in ("medmask", "gaussian"):
        out = inpaint_array(image, fill, method=method)
        assert out[5, 5] == pytest.approx(10.0)
        assert np.isnan(out[5, 6]) and np.isinf(out[6, 5])  # not asked for: unchanged


def test_integer_images_become_float():
    image = np.full((16, 16), 1000, dtype=np.uint16)
    fill = np.zeros((16, 16), bool)
    fill[8, 8] = True
    image[8, 8] = 60000
    out = inpaint_array(image, fill, method="medmask")
    assert out.dtype == np.float32 and out[8, 8] == 1000.0


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="choose among medmask, gaussian"):
        inpaint_array(np.zeros((8, 8)), np.ones((8, 8), bool), method="biharmonic")
    assert set(inpaint_methods()) >= {"medmask", "gaussian", "deepcr/ACS-WFC-F606W-2-32"}


def test_inpaint_ccddata_keeps_everything_else():
    image = _sky()
    hit = _hits()
    ccd = CCDData(image, unit="electron", mask=hit.copy(), meta={"OBJECT": "x"})
    before = ccd.copy()
    out = astromask.inpaint(ccd, method="gaussian")
    np.testing.assert_array_equal(ccd.data, before.data)
    np.testing.assert_array_equal(ccd.mask, before.mask)
    np.testing.assert_array_equal(out.data[~hit], image[~hit])
    assert not np.array_equal(out.data[hit], image[hit])
    np.testing.assert_array_equal(out.mask, hit)
    assert out.unit == "electron" and out.meta["OBJECT"] == "x"

    # An explicit mask: only it is replaced; the CCD's own mask stays out of the estimates.
    other = np.zeros_like(hit)
    other[50, 50] = True
    out2 = astromask.inpaint(ccd, other, method="medmask")
    np.testing.assert_array_equal(out2.data[~other], image[~other])
    np.testing.assert_array_equal(out2.mask, hit | other)

    with pytest.raises(ValueError, match="has no mask"):
        astromask.inpaint(CCDData(image, unit="adu"))


@pytest.mark.remote_data
@pytest.mark.parametrize("method", ["deepcr/ACS-WFC-F606W-2-32", "deepcr/ACS-WFC-F606W-3-32"])
def test_deepcr_inpainting_changes_only_masked_pixels(method):
    image = _sky((70, 90))  # not a multiple of 4: padded as deepCR pads
    hit = _hits((70, 90))
    out = inpaint_array(image, hit, method=method)
    np.testing.assert_array_equal(out[~hit], image[~hit])
    assert np.all(np.isfinite(out[hit]))
    sky_hits = hit.copy()
    sky_hits[30, 41] = False
    assert np.all(np.abs(out[sky_hits] - 200) < 50)
