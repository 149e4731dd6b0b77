"""astromask's combined cosmic-ray detector, its calibrated thresholds, units and data sections."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData
from ccdproc import cosmicray_lacosmic

import astromask
from astromask.ccdproc_compat import resolve_threshold
from astromask.cosmicrays import cosmic_ray_probabilities
from astromask.io.sections import detection_region
from astromask.presets import MODELS, threshold_for_fpr
from astromask.simulate import simulated_frame
from tests.conftest import run_cli

pytestmark = pytest.mark.remote_data


@pytest.fixture(scope="module")
def frame():
    ccd, truth = simulated_frame((200, 232), seed=5)
    return ccd, truth


def _logit(p):
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def test_ensemble_is_the_mean_logit_of_its_members(frame):
    ccd, truth = frame
    electrons = ccd.data.astype(np.float32) * 1.5
    combined = cosmic_ray_probabilities(electrons, model="astromask/ground", progress=False)
    members = MODELS["astromask/ground"].spec.members
    logits = [_logit(cosmic_ray_probabilities(electrons, model=m, progress=False)) for m in members]
    expected = 1 / (1 + np.exp(-np.mean(logits, axis=0)))
    # Away from the borders the members' mirrored margin changes nothing.
    inner = (slice(48, -48), slice(48, -48))
    np.testing.assert_allclose(combined[inner], expected[inner], atol=2e-5)
    # It finds the simulated hits: most truth pixels above the default threshold.
    hits = truth["CR"]
    others = np.any([t for name, t in truth.items() if name != "CR"], axis=0)
    found = combined > MODELS["astromask/ground"].threshold
    assert found[hits].mean() > 0.6 and found[~hits & ~others].mean() < 2e-3


def test_ensemble_borders_are_like_the_interior():
    # Pure sky noise: the mirrored margin keeps the borders as quiet as the interior.
    rng = np.random.default_rng(3)
    sky = rng.normal(1000.0, np.sqrt(1000.0), (256, 256)).astype(np.float32)
    p = cosmic_ray_probabilities(sky, model="astromask/ground", progress=False)
    border = np.ones(p.shape, bool)
    border[4:-4, 4:-4] = False
    assert p[border].max() < 0.2 and p[~border].max() < 0.2


def test_probabilities_convert_by_unit_and_gain(frame):
    ccd, _ = frame
    adu = CCDData(ccd.data.astype(np.float32), unit="adu")
    electrons = adu.data * np.float32(1.5)
    p = astromask.probabilities(adu, model="deepcr/ACS-WFC", gain=1.5, progress=False)
    ref = astromask.probabilities(electrons, model="deepcr/ACS-WFC", progress=False)
    np.testing.assert_array_equal(p, ref)
    in_e = CCDData(electrons, unit="electron")
    np.testing.assert_array_equal(
        astromask.probabilities(in_e, model="deepcr/ACS-WFC", progress=False), ref
    )
    # An ADU network gets ADU whatever the gain.
    decam = astromask.probabilities(adu, model="deepcr/decam", gain=1.5, progress=False)
    np.testing.assert_array_equal(
        decam, astromask.probabilities(adu.data, model="deepcr/decam", progress=False)
    )
    with pytest.raises(ValueError, match="gain: the data are already in electron"):
        astromask.probabilities(in_e, model="deepcr/ACS-WFC", gain=2.0)
    with pytest.raises(TypeError, match="gain: expected a positive number"):
        astromask.probabilities(adu, model="deepcr/ACS-WFC", gain="x")
    with pytest.raises(ValueError, match="gain: MaxiMask normalises"):
        astromask.probabilities(adu, gain=2.0)


def test_threshold_by_false_positive_rate(frame):
    ccd, _ = frame
    assert resolve_threshold("astromask/ground", None) == MODELS["astromask/ground"].threshold
    assert resolve_threshold("astromask/ground", "fpr:1e-4") == threshold_for_fpr(
        "astromask/ground", 1e-4
    )
    strict = astromask.cosmicray_deepcr(ccd, gain=1.5, threshold="fpr:1e-5", inpaint=None)
    loose = astromask.cosmicray_deepcr(ccd, gain=1.5, threshold="fpr:1e-3", inpaint=None)
    assert strict.meta["AMCRTHR"] == threshold_for_fpr("astromask/ground", 1e-5)
    assert strict.meta["AMCRMOD"] == "astromask/ground"
    assert 0 < strict.mask.sum() < loose.mask.sum()
    for bad in ("fpr:x", "0.5", "fpr:1e-12", 2, True):
        with pytest.raises(ValueError, match="threshold"):
            astromask.cosmicray_deepcr(ccd, gain=1.5, threshold=bad, inpaint=None)
    # A network whose probabilities saturate is calibrated at high rates only.
    with pytest.raises(ValueError, match=r"must lie in \[0.01, 0.01\]"):
        astromask.cosmicray_deepcr(ccd, model="decam-attention/Att_deepCR", threshold="fpr:1e-3")


def _border(shape, region, width=3):
    """Pixels outside ``region`` or within ``width`` of its edges."""
    border = np.ones(shape, bool)
    ys, xs = region
    border[ys.start + width : ys.stop - width, xs.start + width : xs.stop - width] = False
    return border


def _raw_frames(realdata):
    with fits.open(realdata / "saao1m_ste3_raw.fits") as hdul:
        yield "saao1m", hdul[0].data.astype(np.float32), hdul[0].header.copy()
    with fits.open(realdata / "lco1m_fa05_raw_mef.fits") as hdul:
        for amp in range(1, 5):
            yield f"lco1m amp{amp}", hdul[amp].data.astype(np.float32), hdul[amp].header.copy()


def test_raw_frames_no_detections_at_data_section_borders(realdata):
    # Raw SAAO and LCO frames, overscan and unexposed rows included, called as
    # the docs call them: at the data-section borders the drop-in flags at most
    # twice what L.A. Cosmic flags on the same frame.
    for name, data, header in _raw_frames(realdata):
        ccd = CCDData(data, unit="adu", meta=header)
        gain = float(header["GAIN"])
        ours = astromask.cosmicray_deepcr(ccd, gain=gain, readnoise=5.0, inpaint=None).mask
        theirs = cosmicray_lacosmic(ccd, gain=gain * u.electron / u.adu, readnoise=5.0).mask
        region = detection_region(header, data.shape, data * gain)
        border = _border(data.shape, region)
        assert (ours & border).sum() <= 2 * (theirs & border).sum(), name
        assert ours.sum() > 20, name  # and the hits inside are found


def test_detection_region_reads_the_header(realdata):
    with fits.open(realdata / "saao1m_ste3_raw.fits") as hdul:
        header, data = hdul[0].header, hdul[0].data.astype(np.float32)
    # TRIMSEC [17:528,1:520], and its 8 unexposed rows (at the bias level) left out.
    assert detection_region(header, data.shape, data) == (slice(0, 512), slice(16, 528))
    assert detection_region(header, data.shape) == (slice(0, 520), slice(16, 528))
    assert detection_region(header, data.shape, section=None) == (slice(0, 520), slice(0, 536))
    trimmed = data[:512, 16:528]  # keywords kept, pixels gone: the whole frame
    assert detection_region(header, trimmed.shape, trimmed) == (slice(0, 512), slice(0, 512))
    # Trimmed with its TRIMSEC, the 8 unexposed rows stay: found without BIASSEC.
    with_blank = data[:520, 16:528]
    assert detection_region({}, with_blank.shape, with_blank) == (slice(0, 512), slice(0, 512))
    with pytest.raises(ValueError, match="section: 'x' is not a FITS section"):
        detection_region(header, data.shape, section="x")
    with pytest.raises(ValueError, match="does not lie inside the frame"):
        detection_region(header, data.shape, section="[1:900,1:10]")
    with pytest.raises(ValueError, match="section: expected 'header', None"):
        detection_region(header, data.shape, section=3)


def test_cli_cleans_the_data_section_of_a_raw_mef(tmp_path, realdata):
    source = realdata / "lco1m_fa05_raw_mef.fits"
    out = tmp_path / "clean.fits"
    done = run_cli(
        "cosmicray",
        source,
        "--output",
        out,
        "--inpaint",
        "medmask",
        "--threshold",
        "fpr:1e-4",
        "-q",
    )
    assert done.returncode == 0, done.stderr
    with fits.open(source) as src, fits.open(out) as hdul:
        for amp in range(1, 5):
            header = src[amp].header
            region = detection_region(header, src[amp].data.shape)
            mask = hdul["CRMASK", amp].data.astype(bool)
            assert mask.any()
            outside = np.ones(mask.shape, bool)
            outside[region] = False
            assert not mask[outside].any()
        thresholds = [h.header["AMCRTHR"] for h in hdul if "AMCRTHR" in h.header]
        assert thresholds == [pytest.approx(threshold_for_fpr("astromask/ground", 1e-4))] * 4
    wrong = run_cli("cosmicray", source, "--threshold", "x")
    assert wrong.returncode == 2 and "--threshold" in wrong.stderr
