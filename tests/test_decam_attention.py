"""Bhavanam et al.'s DECam models (with and without attention gates) in Keras."""

import numpy as np
import pytest

import astromask
from astromask import data, presets
from astromask.convert.cosmic_conn import convert_weights, has_attention, is_batchnorm
from astromask.weights.torch_pickle import read_torch_state_dict
from tests.conftest import ATTENTION_MODELS, assert_probabilities_match

pytestmark = pytest.mark.remote_data


@pytest.mark.upstream
@pytest.mark.parametrize("frame", ["lco04m_cutout", "decam_z"])
@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_probabilities_match_torch(attention_reference, name, frame):
    """Max |dp| <= 1e-4 against the torch implementation, whole frames."""
    references, frames = attention_reference
    image = frames[frame]
    reference = references[(name, frame)]
    ours = astromask.probabilities(image, model=f"decam-attention/{name}")
    assert ours.shape == image.shape
    assert_probabilities_match(
        ours, reference, f"decam-attention/{name} on {frame} {image.shape}", against="torch"
    )


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_registry_entries_describe_the_files(name):
    """Gates, norm and prefix of each entry agree with what its file holds."""
    model = f"decam-attention/{name}"
    spec = presets.model_spec(model)
    tensors = read_torch_state_dict(data.fetch(data.model_files(model)[0]))
    assert spec.unit == "adu" and spec.sky == "kept" and spec.prefix == "module."
    assert has_attention(tensors, spec.prefix) == spec.attention == name.startswith("Att_")
    assert is_batchnorm(tensors, spec.prefix) == (spec.norm == "batch")
    # group norms without affine weights: the files hold no norm tensors at all
    has_norm_weights = any(".conv.1.weight" in key for key in tensors)
    assert has_norm_weights == (spec.norm == "batch")
    weights = convert_weights(tensors, prefix=spec.prefix)
    assert any(key.startswith("up1_att_psi/") for key in weights) == spec.attention


def test_gate_norms_must_be_shared():
    tensors = read_torch_state_dict(data.fetch(data.model_files("decam-attention/Att_deepCR")[0]))
    forged = dict(tensors)
    forged["module.up1.attention.W_x.1.running_mean"] = (
        forged["module.up1.attention.W_x.1.running_mean"] + 1
    )
    with pytest.raises(ValueError, match="differ"):
        convert_weights(forged, prefix="module.")


def test_dropin_feeds_adu_with_the_sky():
    """The DECam models were trained on ADU with the sky: the drop-in divides
    electrons by the gain, and the result does not depend on how the caller
    gave the data (ADU with gain, or electrons with gain 1 then divided)."""
    from astromask.simulate import simulated_frame

    ccd, truth = simulated_frame((128, 128), seed=6)
    gain = float(ccd.meta["GAIN"])
    clean = astromask.cosmicray_deepcr(
        ccd, gain=gain, satlevel=None, model="decam-attention/Att_deepCR", inpaint="medmask"
    )
    direct = astromask.probabilities(ccd.data, model="decam-attention/Att_deepCR") > 0.5
    found = clean.mask & ~(ccd.mask if ccd.mask is not None else False)
    np.testing.assert_array_equal(found, direct)
    assert (found & truth["CR"]).sum() > 0.5 * truth["CR"].sum()
