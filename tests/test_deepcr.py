"""deepCR in Keras: parity with deepCR 0.3.1 on torch, and seamless tiling."""

import numpy as np
import pytest

import astromask
from astromask import inference, tiling
from astromask.inpainting import inpaint_array
from tests.conftest import DEEPCR_INPAINTS, DEEPCR_MASKS

pytestmark = pytest.mark.remote_data


@pytest.mark.upstream
@pytest.mark.parametrize("name", DEEPCR_MASKS)
def test_mask_probabilities_match_deepcr(deepcr_upstream, name):
    """Max |dp| <= 1e-4 on a 512x512 real cut-out."""
    reference = deepcr_upstream[f"mask:{name}"]
    ours = astromask.probabilities(deepcr_upstream["image"], model=f"deepcr/{name}")
    assert ours.shape == reference.shape == (512, 512) and ours.dtype == np.float32
    delta = float(np.abs(ours - reference).max())
    print(
        f"\ndeepcr/{name}: max |dp| = {delta:.3g}; "
        f"flagged at 0.5: ours {(ours > 0.5).sum()}, upstream {(reference > 0.5).sum()}"
    )
    assert delta <= 1e-4


@pytest.mark.upstream
@pytest.mark.parametrize("name", DEEPCR_INPAINTS)
def test_inpainting_matches_deepcr(deepcr_upstream, name):
    """Inpainted values within 1e-4 relative; other pixels bit-identical."""
    image, mask = deepcr_upstream["image"], deepcr_upstream["mask"]
    reference = deepcr_upstream[f"inpaint:{name}"]
    ours = inpaint_array(image, mask, method=f"deepcr/{name}")
    np.testing.assert_array_equal(ours[~mask], image[~mask])
    rel = np.abs(ours[mask] - reference[mask]) / np.maximum(np.abs(reference[mask]), 1e-3)
    print(f"\ndeepcr/{name}: {mask.sum()} pixels, max relative difference {rel.max():.3g}")
    assert rel.max() <= 1e-4


@pytest.mark.upstream
def test_medmask_matches_deepcr_on_positive_data(deepcr_upstream):
    """deepCR's medmask skips zero-valued pixels; on sky-positive data the two agree."""
    image, mask = deepcr_upstream["image"], deepcr_upstream["mask"]
    assert (image != 0).all()
    ours = inpaint_array(image, mask, method="medmask")
    np.testing.assert_allclose(ours, deepcr_upstream["inpaint:medmask"], rtol=1e-6)


def test_tiles_do_not_change_the_result():
    """Overlapping tiles give the whole-frame result (no seams), any frame shape."""
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((180, 236), seed=5)
    image = ccd.data.astype(np.float32)
    for model in ("deepcr/ACS-WFC-F606W-2-4", "deepcr/ACS-WFC-F606W-3-32"):
        channels = image[None] if "2-4" in model else np.stack([image, np.zeros_like(image)])
        padded, _ = tiling.pad_to_multiple(channels / 100, 4)
        whole = inference.predict_unet(padded, model=model, tiling=(512, 32))
        tiled = inference.predict_unet(padded, model=model, tiling=(96, 32), batch_size=3)
        assert padded.shape[1] > 96 and padded.shape[2] > 96
        np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-5)


def test_odd_shapes_pad_like_deepcr():
    image = np.random.default_rng(2).normal(100, 5, (37, 53)).astype(np.float32)
    p = astromask.probabilities(image, model="deepcr/decam")
    assert p.shape == (37, 53) and np.isfinite(p).all()
    cube = astromask.probabilities(np.stack([image, image]), model="deepcr/decam")
    np.testing.assert_array_equal(cube[0], p)


def test_bad_pixels_are_filled_before_detection():
    image = np.random.default_rng(3).normal(100, 5, (64, 64)).astype(np.float32)
    image[20, :] = np.nan  # a dead row
    p = astromask.probabilities(image, model="deepcr/ACS-WFC")
    assert np.isfinite(p).all()
    assert p[19:22].max() < 0.5  # a filled row is not a cosmic ray


def test_deepcr_model_errors_are_named():
    with pytest.raises(ValueError, match="is an inpainting network"):
        astromask.probabilities(np.zeros((8, 8)), model="deepcr/ACS-WFC-F606W-2-32")
    with pytest.raises(ValueError, match="is not a model of probabilities"):
        astromask.probabilities(np.zeros((8, 8)), model="deepcr/nope")
    with pytest.raises(ValueError, match="priors"):
        astromask.probabilities(np.zeros((8, 8)), model="deepcr/decam", priors="default")
    with pytest.raises(ValueError, match="multiples of 4"):
        inference.predict_unet(
            np.zeros((1, 8, 8), np.float32), model="deepcr/decam", tiling=(66, 32)
        )


@pytest.mark.parametrize("band", ["z", "r"])
def test_decam_cutouts_against_the_pipeline(realdata, band):
    """The DECam network finds the pipeline's cosmic-ray track and nothing else,
    including along the left edge, where deepCR's zero padding made a false strip."""
    from astropy.io import fits
    from astropy.nddata import CCDData
    from scipy import ndimage

    with fits.open(realdata / f"decam_cp_{band}_N2_ooi.fits") as hdul:
        header = hdul[1].header
        ccd = CCDData(np.asarray(hdul[1].data, dtype=np.float32), unit="adu", meta=header)
    truth = fits.getdata(realdata / f"decam_cp_{band}_N2_ood.fits", ext=1) == 5
    assert ccd.shape[1] % 4  # padded: the case the mirrored padding is for
    gain = header["GAINA"]
    out = astromask.cosmicray_deepcr(
        ccd,
        gain=gain,
        readnoise=header["RDNOISEA"],
        satlevel=header["SATURATE"] * gain,
        model="deepcr/decam",
        threshold=0.5,
    )
    tracks, n = ndimage.label(truth, structure=np.ones((3, 3)))
    assert n == 1 and (out.mask & truth).sum() >= 0.3 * truth.sum()
    assert (out.mask & ~truth).sum() <= 5
    assert out.unit == "electron"
