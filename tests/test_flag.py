"""`astromask.flag` and `astromask.probabilities`: behaviour users rely on."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, NDData

import astromask
from astromask import classes, inference
from astromask.simulate import simulated_frame

pytestmark = pytest.mark.remote_data


@pytest.fixture(scope="module")
def frame():
    ccd, truth = simulated_frame((420, 440), seed=3)
    return ccd, truth


@pytest.fixture(scope="module")
def flagged(frame):
    return astromask.flag(frame[0], progress=False)


def test_flag_returns_new_ccddata_and_leaves_input_alone(frame, flagged):
    ccd, _ = frame
    assert ccd.flags is None and ccd.mask is None
    assert "AMVERS" not in ccd.meta
    assert flagged is not ccd
    assert flagged.data is not ccd.data
    np.testing.assert_array_equal(flagged.data, ccd.data)
    assert flagged.unit == ccd.unit


def test_flags_and_mask_semantics(flagged):
    assert flagged.flags.dtype == np.uint16
    assert flagged.mask.dtype == bool
    assert flagged.flags.shape == flagged.mask.shape == flagged.data.shape
    bits = set(np.unique(flagged.flags).tolist())
    allowed = sum(c.bit for c in classes.CLASSES if c.bit)
    assert all(b & ~allowed == 0 for b in bits)
    # mask = pixels of the default mask classes, nothing else.
    expected = np.zeros(flagged.mask.shape, bool)
    for name in classes.DEFAULT_MASK_CLASSES:
        expected |= classes.decode_flags(flagged.flags, name)
    np.testing.assert_array_equal(flagged.mask, expected)


def test_flags_follow_probabilities_and_thresholds(frame, flagged):
    probs = astromask.probabilities(frame[0], priors="default", progress=False)
    above = inference.threshold(probs, classes.default_thresholds())
    for k, cls in enumerate(classes.CLASSES):
        if cls.bit:
            np.testing.assert_array_equal(classes.decode_flags(flagged.flags, cls.name), above[k])


@pytest.mark.parametrize(
    ("name", "min_recall"), [("CR", 0.3), ("HCL", 0.9), ("SAT", 0.9), ("TRL", 0.6)]
)
def test_simulated_contaminants_are_found(frame, flagged, name, min_recall):
    from scipy import ndimage

    truth = frame[1][name]
    found = classes.decode_flags(flagged.flags, name)
    recall = (found & truth).sum() / truth.sum()
    near = ndimage.binary_dilation(truth, iterations=2)
    precision = (found & near).sum() / max(found.sum(), 1)
    assert recall >= min_recall
    assert precision >= 0.8


def test_meta_records_how_flags_were_made(flagged):
    meta = flagged.meta
    assert meta["AMVERS"] == astromask.__version__
    assert meta["AMWHASH"] == "13e5fed2cdb7abd4535a4e872b4906f380558073d9294c1d5fa2041f620073e5"
    assert meta["AMP_CR"] == 0.0005 and meta["AMT_CR"] == 0.43 and meta["AMB_CR"] == 1
    assert meta["AMPRIOR"] == "default"
    assert meta["AMTILE"] == "420x440/32"  # one tile, the frame's own size (auto tiling)
    assert all(len(key) <= 8 for key in meta)


def test_write_and_read_back(tmp_path, flagged):
    path = tmp_path / "flagged.fits"
    flagged.write(path, hdu_mask="MASK", hdu_flags="FLAGS")
    back = CCDData.read(path, hdu_mask="MASK", hdu_flags="FLAGS")
    np.testing.assert_array_equal(back.mask, flagged.mask)
    np.testing.assert_array_equal(back.flags, flagged.flags)
    assert back.meta["AMT_SAT"] == 0.81
    with fits.open(path) as hdul:
        assert hdul["FLAGS"].data.dtype.kind in "iu"


def test_input_mask_is_kept(frame):
    ccd = frame[0].copy()
    ccd.mask = np.zeros(ccd.shape, bool)
    ccd.mask[0, :5] = True
    out = astromask.flag(ccd, classes=["CR"], progress=False)
    assert out.mask[0, :5].all()
    np.testing.assert_array_equal(ccd.mask[0, 5:], False)  # input untouched


def test_class_selection_and_mask_classes(frame):
    out = astromask.flag(frame[0], classes=["CR", "BBG"], mask_classes=["BBG"], progress=False)
    assert set(np.unique(out.flags).tolist()) <= {0, 1, 4096, 4097}
    np.testing.assert_array_equal(out.mask, classes.decode_flags(out.flags, "BBG"))
    assert "AMT_SAT" not in out.meta


def test_priors_none_and_custom(frame):
    raw = astromask.flag(frame[0], classes=["CR"], priors=None, progress=False)
    strict = astromask.flag(frame[0], classes=["CR"], priors={"CR": 1e-6}, progress=False)
    loose = astromask.flag(frame[0], classes=["CR"], priors={"cr": 0.2}, progress=False)
    assert strict.flags.sum() <= raw.flags.sum() and strict.flags.sum() <= loose.flags.sum()
    assert loose.flags.sum() > strict.flags.sum()
    assert raw.meta["AMPRIOR"] == "none" and "AMP_CR" not in raw.meta
    assert loose.meta["AMPRIOR"] == "custom" and loose.meta["AMP_CR"] == 0.2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classes": ["CR", "XYZ"]}, "unknown class 'XYZ'"),
        ({"priors": {"CR": 0}}, r"priors: every value must lie in \(0, 1\)"),
        ({"priors": [0.1, 0.2]}, "priors: expected a dict"),
        ({"thresholds": None}, "thresholds: expected"),
        ({"classes": ["CR"], "mask_classes": ["SAT"]}, "mask_classes: SAT not among"),
        ({"tiling": "huge"}, "tiling: unknown tiling"),
        ({"batch_size": 0}, "batch_size: expected a positive integer"),
        ({"batch_size": "x"}, "batch_size: expected a positive integer"),
        ({"batch_size": float("nan")}, "batch_size: expected a positive integer"),
        ({"device": "nope"}, "device: expected None, .cpu."),
    ],
)
def test_bad_arguments_say_what_to_do(frame, kwargs, match):
    with pytest.raises(ValueError, match=match):
        astromask.flag(frame[0], progress=False, **kwargs)


def test_bad_data_is_refused():
    with pytest.raises(ValueError, match="2-D image or a 3-D cube"):
        astromask.flag(np.zeros(10))
    with pytest.raises(TypeError, match="real numeric image"):
        astromask.flag(np.zeros((5, 5), dtype=complex))


def test_plain_array_nddata_and_masked_array():
    ccd, _ = simulated_frame((130, 170), seed=5)
    from_array = astromask.flag(ccd.data, classes=["CR"], progress=False)
    assert isinstance(from_array, CCDData) and from_array.unit == u.adu
    from_nddata = astromask.flag(NDData(ccd.data), classes=["CR"], progress=False)
    np.testing.assert_array_equal(from_nddata.flags, from_array.flags)
    masked = np.ma.MaskedArray(ccd.data, mask=np.zeros(ccd.shape, bool))
    masked.mask[3, 3] = True
    out = astromask.flag(masked, classes=["CR"], progress=False)
    assert out.mask[3, 3]


def test_small_odd_sized_images_and_dtypes():
    ccd, _ = simulated_frame((97, 401), seed=9)
    data = np.round(ccd.data).astype(np.int32)
    reference = astromask.probabilities(data.astype(np.float32), progress=False)
    assert reference.shape == (14, 97, 401) and reference.dtype == np.float32
    assert np.isfinite(reference).all()
    for dtype in (">i4", "<u2", ">f8"):
        np.testing.assert_array_equal(
            astromask.probabilities(data.astype(dtype), progress=False), reference
        )


def test_nan_and_inf_pixels():
    ccd, _ = simulated_frame((200, 200), seed=2)
    data = ccd.data.copy()
    data[10:12, 10:12] = np.nan
    data[50, 50] = np.inf
    out = astromask.flag(data, progress=False)
    assert np.isfinite(data[50, 51])
    assert out.flags.shape == data.shape
    assert np.isnan(out.data[10, 10])  # data kept as given


def test_cube_is_flagged_plane_by_plane():
    a, _ = simulated_frame((150, 160), seed=1)
    b, _ = simulated_frame((150, 160), seed=2)
    cube = np.stack([a.data, b.data])
    probs = astromask.probabilities(cube, progress=False)
    assert probs.shape == (14, 2, 150, 160)
    np.testing.assert_array_equal(probs[:, 1], astromask.probabilities(b.data, progress=False))
    out = astromask.flag(cube, classes=["CR"], progress=False)
    assert out.flags.shape == cube.shape


def test_batch_size_does_not_change_results():
    ccd, _ = simulated_frame((640, 650), seed=4)
    options = dict(tiling="maximask", progress=False)  # 9 tiles (auto: one)
    one = astromask.probabilities(ccd, batch_size=1, **options)
    many = astromask.probabilities(ccd, batch_size=16, **options)
    # Kernels may round differently for another batch size, and the argmax
    # unpooling amplifies that where pooled values are nearly tied: compare
    # with the same bound as the parity tests, not bit for bit.
    close = (np.abs(one - many) <= 1e-3).reshape(14, -1).mean(axis=1)
    assert close.min() >= 0.9995
    np.testing.assert_array_equal(astromask.probabilities(ccd, batch_size=16, **options), many)


def test_mask_classes_may_include_background(frame):
    out = astromask.flag(frame[0], classes=["CR", "BG"], mask_classes=["BG"], progress=False)
    probs = astromask.probabilities(frame[0], priors="default", progress=False)
    above = inference.threshold(probs, classes.default_thresholds())
    np.testing.assert_array_equal(out.mask, above[classes.class_index(["BG"])[0]])
    assert set(np.unique(out.flags).tolist()) <= {0, 1}  # BG carries no bit


def test_flag_never_holds_the_frames_probabilities():
    import tracemalloc

    base, _ = simulated_frame((512, 512), seed=6)
    # The same tiles for both frames; "auto" tiles are at most 1152 pixels
    # (their size is bounded, not constant).
    options = dict(tiling="maximask", batch_size=2, progress=False)
    astromask.flag(base.data[:400, :400], **options)  # the network is built
    peaks = {}
    for reps in (1, 2):
        image = np.tile(base.data, (reps, reps))
        tracemalloc.start()
        try:
            astromask.flag(image, **options)  # same batches for both
            peaks[image.size] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    (small, low), (large, high) = sorted(peaks.items())
    per_pixel = (high - low) / (large - small)
    print(f"\nflag's traced memory grows by {per_pixel:.1f} bytes per pixel")
    # Tile batches take a fixed amount; what grows with the frame must stay
    # far below the 56 bytes per pixel of 14 float32 probability planes.
    assert per_pixel < 40


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_stays_close_to_float32(frame, flagged, precision):
    full = astromask.probabilities(frame[0], priors="default", progress=False)
    reduced = astromask.probabilities(
        frame[0], priors="default", progress=False, precision=precision
    )
    assert reduced.dtype == np.float32 and reduced.shape == full.shape
    dp = np.abs(reduced - full)
    out = astromask.flag(frame[0], progress=False, precision=precision)
    changed = (out.flags != flagged.flags).mean()
    print(f"\n{precision}: mean |dp| {dp.mean():.2g}, flags changed {100 * changed:.3f} %")
    assert dp.mean() < 0.01
    assert changed < 0.01
    assert 0 < dp.max()  # it did compute in 16 bits


def test_unknown_precision_is_refused(frame):
    with pytest.raises(ValueError, match="precision: expected one of float32, bfloat16"):
        astromask.flag(frame[0], precision="int8", progress=False)
