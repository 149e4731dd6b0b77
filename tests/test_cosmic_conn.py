"""Cosmic-CoNN in Keras: parity with cosmic-conn 0.6.1 on torch, tiling, conversion."""

import numpy as np
import pytest

import astromask
from astromask import cosmicrays, inference
from astromask import tiling as tilings
from astromask.convert.cosmic_conn import convert_weights
from astromask.weights.torch_pickle import read_torch_state_dict
from tests.conftest import COSMIC_CONN_MODELS, assert_probabilities_match

pytestmark = pytest.mark.remote_data

FRAMES = ["lco04m_cutout", "mro24m", "decam_z_240"]


@pytest.mark.upstream
@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("name", COSMIC_CONN_MODELS)
def test_probabilities_match_cosmic_conn(cosmic_conn_upstream, name, frame):
    """Max |dp| <= 1e-4 on real frames upstream scores in one pass."""
    references, frames = cosmic_conn_upstream
    image = frames[frame]
    before = image.copy()
    reference = references[(name, frame)]
    ours = astromask.probabilities(image, model=f"cosmic-conn/{name}")
    np.testing.assert_array_equal(image, before)
    assert ours.shape == image.shape
    assert_probabilities_match(ours, reference, f"cosmic-conn/{name} on {frame} {image.shape}")


def test_state_dicts_share_one_norm_per_double_convolution():
    """The two norms of a block are one module upstream; a file where they
    differ is refused instead of being loaded as something else."""
    from astromask import data

    path = data.fetch(data.model_files("cosmic-conn/ground_imaging")[0])
    tensors = read_torch_state_dict(path)
    weights = convert_weights(tensors)
    np.testing.assert_array_equal(weights["inc_norm/gamma"], tensors["inc.conv.conv.4.weight"])
    assert not any(key.endswith(("running_mean", "running_var")) for key in weights)
    forged = dict(tensors)
    forged["up1.conv.conv.4.weight"] = forged["up1.conv.conv.4.weight"] + 1
    with pytest.raises(ValueError, match="shares one normalisation"):
        convert_weights(forged)
    batchnorm = read_torch_state_dict(data.fetch(data.model_files("cosmic-conn/HST_ACS_WFC")[0]))
    folded = convert_weights(batchnorm)
    assert not any("_norm/" in key for key in folded)


def test_tile_median_is_torch_lower_median():
    tiles = np.array([[1.0, 2.0, 10.0, 20.0]], dtype=np.float32).reshape(1, 2, 2, 1)
    # torch.median of an even count is the lower middle value (2), not 6.
    np.testing.assert_array_equal(cosmicrays.subtract_tile_median(tiles).ravel(), [-1, 0, 8, 18])


@pytest.mark.parametrize("length,size,margin", [(200, 96, 32), (1523, 1024, 64), (96, 96, 0)])
def test_blend_weights_sum_to_one_and_skip_tile_edges(length, size, margin):
    tiling = tilings.Tiling(size, margin)
    total = np.zeros(length)
    for start in tiling.starts(length):
        span = min(size, length)
        w = tilings.blend_weights(start, span, length, margin, 24 if margin else 0)
        if start > 0:
            assert (w[:24] == 0).all()  # never the pixels that saw the padding
        if start + span < length:
            assert (w[-24:] == 0).all()
        total[start : start + span] += w
    assert total.min() > 0
    # Where two tiles overlap by exactly 2 * margin the weights are a partition of one.
    if len(tiling.starts(length)) > 2:
        first_overlap = slice(tiling.stride, size)
        np.testing.assert_allclose(total[first_overlap], 1, atol=1e-6)


def test_blended_tiles_equal_the_whole_frame_for_a_local_network():
    """With batch norm folded the HST network is purely convolutional: then
    blended tiles must reproduce the whole-frame result exactly."""
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((200, 300), seed=8)
    image = ccd.data.astype(np.float32)[None] / 4
    model = "cosmic-conn/HST_ACS_WFC"
    whole = inference.predict_unet(image, model=model, tiling=(512, 0))
    tiled = inference.predict_unet(image, model=model, tiling=(128, 32), blend=24, batch_size=2)
    np.testing.assert_allclose(tiled, whole, atol=2e-5)


def test_every_pixel_scored_and_caller_array_untouched():
    """Upstream leaves the last ny % 16 rows at 0 and zeroes NaNs in place."""
    from astromask.simulate import simulated_frame

    ccd, truth = simulated_frame((150, 166), seed=4)
    image = np.array(ccd.data, dtype=np.float32)
    image[140:144, 150:154] += 3000.0  # a hit in the corner upstream does not score
    image[10:14, 20:40] = np.nan
    before = image.copy()
    p = astromask.probabilities(image, model="cosmic-conn/ground_imaging")
    np.testing.assert_array_equal(image, before)  # NaNs stay NaNs in the caller's array
    assert p.shape == image.shape and np.isfinite(p).all()
    assert p[140:144, 150:154].min() > 0.5
    assert p[10:14, 20:40].max() < 0.5  # filled NaNs are not cosmic rays
    cr = truth["CR"] & np.isfinite(image)
    assert (p[cr] > 0.5).mean() > 0.5


def test_dropin_takes_cosmic_conn_models():
    from astromask.simulate import simulated_frame

    ccd, truth = simulated_frame((128, 128), seed=3)
    clean = astromask.cosmicray_deepcr(
        ccd, gain=1.0, model="cosmic-conn/ground_imaging", inpaint="medmask"
    )
    assert clean.meta["AMCRMOD"] == "cosmic-conn/ground_imaging"
    found = clean.mask & ~(ccd.mask if ccd.mask is not None else False)
    assert (found & truth["CR"]).sum() > 0.5 * truth["CR"].sum()
    with pytest.raises(ValueError, match="not a cosmic-ray network"):
        astromask.cosmicray_deepcr(ccd, model="cosmic-conn/nope")
    with pytest.raises(ValueError, match="priors"):
        astromask.probabilities(ccd, model="cosmic-conn/NRES", priors="default")
