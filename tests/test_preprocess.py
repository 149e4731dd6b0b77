import numpy as np
import pytest

from astromask.preprocess import background_maps, normalize


def _sky(shape, level=1000.0, noise=20.0, seed=0):
    rng = np.random.default_rng(seed)
    return (level + rng.normal(0, noise, shape)).astype(np.float32)


def test_flat_sky_normalises_to_unit_noise():
    image = _sky((600, 700))
    out = normalize(image, background="maximask")
    assert out.dtype == np.float32
    # Away from the corners, where upstream's zero-padded median filter dips.
    centre = out[150:-150, 150:-150]
    assert abs(float(np.median(centre))) < 0.05
    assert abs(float(np.std(centre)) - 1) < 0.05


@pytest.mark.parametrize("pedestal", [0.0, 2500.0])
@pytest.mark.parametrize("size", [512, 1024])
def test_astromask_background_does_not_dip_at_the_corners(size, pedestal):
    # Upstream's zero-padded median filter pulls the maps towards 0 near the
    # corners, by an amount that grows with the level (a bias pedestal).
    image = _sky((size, size)) + np.float32(pedestal)
    ours = normalize(image)
    for corner in (ours[:64, :64], ours[:64, -64:], ours[-64:, :64], ours[-64:, -64:]):
        assert abs(float(np.median(corner))) < 0.1
        assert abs(float(np.std(corner)) - 1) < 0.1
    upstream = normalize(image, background="maximask")
    assert float(np.median(upstream[:64, :64])) > 1  # the dip, kept for parity


def test_blank_lines_take_no_part_in_the_statistics():
    image = _sky((600, 600))
    image[:, :40] = 0.0  # zero-filled columns
    out = normalize(image)[:, 40:]
    assert abs(float(np.median(out))) < 0.05 and abs(float(np.std(out)) - 1) < 0.05
    with pytest.raises(ValueError, match="background: expected one of astromask, maximask"):
        normalize(image, background="median")


def test_gradient_is_removed():
    yy, xx = np.mgrid[0:800, 0:800]
    image = _sky((800, 800)) + 0.5 * xx + 0.2 * yy
    out = normalize(image)
    left, right = out[200:600, 200:400], out[200:600, 400:600]
    assert abs(float(np.median(left)) - float(np.median(right))) < 0.2


@pytest.mark.parametrize("shape", [(30, 40), (150, 420), (250, 251), (1, 500)])
def test_small_images_give_finite_results(shape):
    out = normalize(_sky(shape))
    assert out.shape == shape
    assert np.isfinite(out).all()
    assert abs(float(np.median(out))) < 0.3


@pytest.mark.parametrize("dtype", [">f4", "<f8", ">i2", "<u2", "i4", ">u4"])
def test_dtypes_and_byte_orders_agree(dtype):
    image = np.round(_sky((450, 430))).astype(np.int32)
    reference = normalize(image.astype(np.float32))
    np.testing.assert_array_equal(normalize(image.astype(dtype)), reference)


def test_input_is_not_modified_and_nan_inf_handled():
    image = _sky((420, 410))
    image[5, 5], image[6, 6], image[7, 7] = np.nan, np.inf, -np.inf
    before = image.copy()
    out = normalize(image)
    np.testing.assert_array_equal(image, before)
    assert np.isfinite(out).all()


def test_constant_and_zero_images_stay_finite():
    assert np.isfinite(normalize(np.zeros((500, 500)))).all()
    assert np.isfinite(normalize(np.full((500, 500), 7.0))).all()


def test_masked_pixels_do_not_bias_background():
    image = _sky((600, 600))
    mask = np.zeros(image.shape, bool)
    image[:, :300] += 5000  # a region of very bright junk, masked
    mask[:, :300] = True
    background, sigma = background_maps(image, mask)
    assert abs(float(np.median(background[:, 300:])) - 1000) < 5
    assert (sigma > 0).all()
