"""Contaminant injection of `astromask.simulate`: MaxiMask-style training sets."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from scipy import ndimage

from astromask.classes import CLASS_NAMES
from astromask.simulate import (
    _dark_hits,
    contaminate,
    cosmic_rays_from_dark,
    cosmic_rays_from_frame,
    inject_cosmic_rays,
    maximask_cr_scale,
)

SKY, NOISE = 1000.0, 10.0
ALL = ("HCL", "DCL", "HP", "DP", "TRL", "SAT", "OV")
STARS = [(50, 60, 3e4), (150, 120, 1e4), (100, 170, 5e3)]  # y, x, flux; sigma 2 px


def sky_frame(shape=(200, 200), seed=0):
    """Gaussian-noise sky of 1000 +- 10 with three Gaussian stars."""
    image = np.random.default_rng(seed).normal(SKY, NOISE, shape)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for y, x, flux in STARS:
        image += flux / (2 * np.pi * 4.0) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
    return image


def read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


# Known dark-frame hits: (row, column, core pattern), at least 20 px apart.
DARK_HITS = [
    (12, 15, np.array([[400.0]])),
    (15, 60, np.array([[300.0, 250.0], [200.0, 350.0]])),
    (40, 30, np.diag([500.0, 400.0, 300.0, 200.0, 150.0, 120.0])),
    (70, 90, np.full((1, 9), 180.0)),
    (100, 20, np.array([[0, 200.0, 0], [200.0, 600.0, 200.0], [0, 200.0, 0]])),
    (120, 110, np.full((7, 1), 250.0)),
]


def synthetic_dark():
    """A 150x150 dark (100 +- 5) with `DARK_HITS`, and each hit's core mask."""
    dark = np.random.default_rng(1).normal(100.0, 5.0, (150, 150))
    cores = []
    for y, x, pattern in DARK_HITS:
        h, w = pattern.shape
        dark[y : y + h, x : x + w] += pattern
        core = np.zeros(dark.shape, bool)
        core[y : y + h, x : x + w] = pattern > 0
        cores.append(core)
    return dark, cores


def unit_hits():
    """A small library: a 1x5 track, an L-shaped 3-pixel hit, a single pixel."""
    track = np.ones((1, 5), np.float32)
    corner = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    dot = np.ones((1, 1), np.float32)
    return [(v, v > 0) for v in (track, corner, dot)]


# ---------------------------------------------------------------------------
# cosmic_rays_from_dark
# ---------------------------------------------------------------------------


def test_dark_hits_recovered_with_dilated_footprints():
    dark, cores = synthetic_dark()
    hits, boxes = _dark_hits(read_only(dark), nsigma=5.0)
    assert len(hits) == len(DARK_HITS)
    # Hits come in raster order of their first pixel; so do the known ones.
    truths = [ndimage.binary_dilation(core, structure=np.ones((3, 3))) for core in cores]
    truths.sort(key=lambda t: np.flatnonzero(t)[0])
    for (values, footprint), box, truth in zip(hits, boxes, truths, strict=True):
        assert values.dtype == np.float32 and footprint.dtype == bool
        assert box == ndimage.find_objects(truth.astype(int))[0]  # position
        np.testing.assert_array_equal(footprint, truth[box])  # 3x3-dilated core
        assert np.all(values[~footprint] == 0)
    # The values are the background-subtracted dark: the cores keep their signal.
    by_box = {(b[0].start, b[1].start): v for (v, _), b in zip(hits, boxes, strict=True)}
    y, x, pattern = DARK_HITS[0]
    assert abs(by_box[(y - 1, x - 1)][1, 1] - pattern[0, 0]) < 25
    assert cosmic_rays_from_dark(dark, nsigma=5.0)[0][0].shape == hits[0][0].shape


def test_dark_default_threshold_is_three_sigma():
    dark, _ = synthetic_dark()
    # At 3 sigma (the paper's threshold) noise peaks are detected as well.
    assert len(cosmic_rays_from_dark(dark)) > len(cosmic_rays_from_dark(dark, nsigma=5.0))


def test_dark_bad_pixels_and_max_pixels_are_left_out():
    dark, cores = synthetic_dark()
    dark[130, 130] += 5000.0  # a hot pixel of the dark
    dark[5, 140] = np.nan
    bad = np.zeros(dark.shape, bool)
    bad[130, 130] = True
    with_hot = cosmic_rays_from_dark(dark, nsigma=5.0)
    assert len(with_hot) == len(DARK_HITS) + 1
    hits = cosmic_rays_from_dark(dark, nsigma=5.0, bad=read_only(bad))
    assert len(hits) == len(DARK_HITS)
    assert all(np.isfinite(values).all() for values, _ in hits)
    small = cosmic_rays_from_dark(dark, nsigma=5.0, bad=bad, max_pixels=21)
    assert all(footprint.sum() <= 21 for _, footprint in small)
    sizes = [ndimage.binary_dilation(core, structure=np.ones((3, 3))).sum() for core in cores]
    assert sorted(sizes)[:4] == [9, 16, 21, 27]  # single, 2x2, plus sign, 7-px column
    assert len(small) == 3


def test_dark_errors():
    dark, _ = synthetic_dark()
    with pytest.raises(ValueError, match="dark: expected a 2-D real image"):
        cosmic_rays_from_dark(dark[None])
    with pytest.raises(ValueError, match="bad must have the dark's shape"):
        cosmic_rays_from_dark(dark, bad=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="nsigma must be greater than 0"):
        cosmic_rays_from_dark(dark, nsigma=-1)
    with pytest.raises(ValueError, match="max_pixels must be at least 1"):
        cosmic_rays_from_dark(dark, max_pixels=0)
    with pytest.raises(ValueError, match="dark has no finite"):
        cosmic_rays_from_dark(np.full((5, 5), np.nan))


# ---------------------------------------------------------------------------
# inject_cosmic_rays and maximask_cr_scale
# ---------------------------------------------------------------------------


def test_inject_is_deterministic_and_leaves_inputs_alone():
    image = sky_frame()
    copy = image.copy()
    hits = [(read_only(v), read_only(f)) for v, f in unit_hits()]
    a, ta = inject_cosmic_rays(read_only(image), hits, seed=3)
    b, tb = inject_cosmic_rays(image, hits, seed=3)
    c, tc = inject_cosmic_rays(image, hits, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    assert not np.array_equal(ta, tc)
    np.testing.assert_array_equal(image, copy)
    assert a.dtype == np.float32 and ta.dtype == bool
    # A generator works as a seed, and the same state gives the same result.
    d, _ = inject_cosmic_rays(image, hits, seed=np.random.default_rng(3))
    e, _ = inject_cosmic_rays(image, hits, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(d, e)


def test_inject_truth_matches_added_signal():
    image = sky_frame()
    dark, _ = synthetic_dark()
    hits = cosmic_rays_from_dark(dark, nsigma=5.0)
    dirty, truth = inject_cosmic_rays(image, hits, number=30, seed=0)
    changed = dirty != image.astype(np.float32)
    assert changed.any()
    assert not (changed & ~truth).any()  # every changed pixel is in the truth
    assert truth.sum() <= sum(f.sum() for _, f in hits) * 30
    # One hit: the truth is its footprint, the added signal its values (rotated).
    values, footprint = hits[2]
    one, truth = inject_cosmic_rays(image, [hits[2]], number=1, seed=5)
    assert truth.sum() == footprint.sum()
    added = (one - image)[truth]
    np.testing.assert_allclose(np.sort(added), np.sort(values[footprint]), atol=1e-3)


def test_inject_density_number_scale_rotate():
    zero = np.zeros((200, 200))
    hits = unit_hits()
    # All three hits add 1 per footprint pixel; overlaps add up.
    dirty, _ = inject_cosmic_rays(zero, [hits[0]], seed=1)  # default 1/2000
    assert dirty.sum() == 20 * 5
    dirty, _ = inject_cosmic_rays(zero, [hits[0]], density=1 / 1000, seed=1)
    assert dirty.sum() == 40 * 5
    dirty, _ = inject_cosmic_rays(zero, [hits[1]], number=7, scale=2.5, seed=1)
    assert dirty.sum() == pytest.approx(7 * 3 * 2.5)
    dirty, truth = inject_cosmic_rays(zero, hits, density=0, seed=1)
    assert not truth.any() and not dirty.any()
    # Without rotation a horizontal track stays horizontal; with it, some turn.
    _, truth = inject_cosmic_rays(zero, [hits[0]], number=30, rotate=False, seed=2)
    assert truth.any(axis=1).sum() <= 30 and not (truth[:-1] & truth[1:]).any()
    _, truth = inject_cosmic_rays(zero, [hits[0]], number=30, seed=2)
    assert (truth[:-1] & truth[1:]).any()
    # A hit that fits only when turned is turned; one that never fits is refused.
    tall = (np.ones((20, 1)), np.ones((20, 1), bool))
    _, truth = inject_cosmic_rays(np.zeros((5, 40)), [tall], number=2, seed=0)
    assert truth.sum(axis=1).max() >= 20
    with pytest.raises(ValueError, match="no hit fits in the 5x40 image"):
        inject_cosmic_rays(np.zeros((5, 40)), [tall], number=2, rotate=False)


def test_inject_errors():
    image = sky_frame((50, 50))
    hits = unit_hits()
    with pytest.raises(ValueError, match="density or number, not both"):
        inject_cosmic_rays(image, hits, density=1e-3, number=3)
    with pytest.raises(ValueError, match="density must be at least 0"):
        inject_cosmic_rays(image, hits, density=-1e-3)
    with pytest.raises(ValueError, match="number must be an integer"):
        inject_cosmic_rays(image, hits, number=2.5)
    with pytest.raises(ValueError, match="hits is empty"):
        inject_cosmic_rays(image, [])
    with pytest.raises(ValueError, match=r"hits\[0\] must be a \(values, footprint\) pair"):
        inject_cosmic_rays(image, [np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"hits\[1\]: footprint has shape"):
        inject_cosmic_rays(image, [hits[0], (np.ones((2, 2)), np.ones((3, 3), bool))])
    with pytest.raises(ValueError, match="image: expected a 2-D real image"):
        inject_cosmic_rays(image[0], hits)
    with pytest.raises(ValueError, match="scale must be finite"):
        inject_cosmic_rays(image, hits, scale=np.nan)


def test_maximask_cr_scale_is_k_c_sigma_u():
    image = sky_frame()
    assert maximask_cr_scale(read_only(image)) == pytest.approx(0.125 * NOISE, rel=0.03)
    assert maximask_cr_scale(image, k_c=0.25) == pytest.approx(0.25 * NOISE, rel=0.03)
    with pytest.raises(ValueError, match="k_c must be greater than 0"):
        maximask_cr_scale(image, k_c=0)


# ---------------------------------------------------------------------------
# contaminate
# ---------------------------------------------------------------------------


def test_contaminate_every_class_deterministic_inputs_unchanged():
    image = sky_frame()
    copy = image.copy()
    for seed in range(4):
        dirty, truth = contaminate(read_only(image), seed=seed)
        assert list(truth) == list(ALL)
        assert set(truth) <= set(CLASS_NAMES)
        for name, mask in truth.items():
            assert mask.dtype == bool and mask.shape == image.shape
            assert mask.any(), (seed, name)
        assert dirty.dtype == np.float32
    np.testing.assert_array_equal(image, copy)
    a, ta = contaminate(image, seed=7)
    b, tb = contaminate(image, seed=7)
    c, _ = contaminate(image, seed=8)
    np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(ta[k], tb[k]) for k in ALL)
    assert not np.array_equal(a, c)
    d, _ = contaminate(image, seed=np.random.default_rng(7))
    e, _ = contaminate(image, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(d, e)


def test_contaminate_only_requested_classes_and_independent_streams():
    image = sky_frame()
    dirty, truth = contaminate(image, classes="hp", seed=2)
    assert list(truth) == ["HP"]
    _, both = contaminate(image, classes=("TRL", "HP"), seed=2)
    assert list(both) == ["TRL", "HP"]
    np.testing.assert_array_equal(both["HP"], truth["HP"])
    # Only the HP pixels changed.
    changed = dirty != image.astype(np.float32)
    np.testing.assert_array_equal(changed, truth["HP"])


def test_hot_pixels_far_above_and_dead_pixels_far_below_the_sky():
    image = sky_frame()
    for seed in range(3):
        dirty, truth = contaminate(image, classes=("HP", "DP"), seed=seed)
        hot, dead = truth["HP"] & ~truth["DP"], truth["DP"]
        assert np.all(dirty[hot] - image[hot] > 10 * NOISE)  # added, >= ~13.5 sigma_U
        assert np.all(dirty[dead] < SKY - 20 * NOISE)  # replaced: 0, ~0 or 0.1-0.77 m_U
        # A fraction 2e-4..5e-4 of punctual dead pixels (8 to 20 here).
        assert 8 <= dead.sum() <= 20


def test_hot_and_dead_columns_and_lines():
    image = sky_frame()
    for seed in range(3):
        dirty, truth = contaminate(image, classes=("HCL", "DCL"), seed=seed)
        hcl = truth["HCL"] & ~truth["DCL"]
        assert np.all(dirty[hcl] - image[hcl] > 10 * NOISE)
        assert np.all(dirty[truth["DCL"]] < SKY - 20 * NOISE)
        # HCL is only columns and lines: 30 to 200 px long, 1 to 3 px thick.
        longest = max(truth["HCL"].sum(axis=0).max(), truth["HCL"].sum(axis=1).max())
        assert longest >= 30


def test_trail_truth_is_the_dilated_profile():
    image = sky_frame()
    for seed in range(3):
        dirty, truth = contaminate(image, classes=["TRL"], seed=seed)
        added = dirty - image
        assert truth["TRL"].sum() > 200  # crosses the frame
        assert np.all(np.abs(added[~truth["TRL"]]) < 0.5 * NOISE)
        seven = np.ones((7, 7), bool)
        assert not (ndimage.binary_dilation(added > 0.6 * NOISE, seven) & ~truth["TRL"]).any()
        assert not (truth["TRL"] & ~ndimage.binary_dilation(added > 0.4 * NOISE, seven)).any()
        assert added.max() > 3 * NOISE


def test_saturation_clips_and_marks():
    image = sky_frame()
    dirty, truth = contaminate(image, classes=["SAT"], saturation=1500.0, seed=0)
    sat = truth["SAT"]
    assert np.all(dirty[sat] == np.float32(1500.0))
    assert dirty.max() == np.float32(1500.0)
    assert not (dirty[~sat] >= 1500.0).any()
    # The brightest star of the input (peak ~2200) is clipped too.
    y, x, _ = STARS[0]
    assert sat[y, x]
    # The added saturated stars (1 or 2) bleed along their columns.
    labels, n = ndimage.label(sat)
    boxes = ndimage.find_objects(labels)
    added = [box for index, box in enumerate(boxes, start=1) if index != labels[y, x]]
    assert 1 <= len(added) <= 2
    for rows, cols in added:
        assert rows.stop - rows.start > cols.stop - cols.start
    # Default level: some pixels saturate, none exceed the level.
    dirty, truth = contaminate(image, classes=["SAT"], seed=3)
    level = dirty.max()
    assert truth["SAT"].any() and np.all(dirty[truth["SAT"]] == level)
    assert level > SKY + 200 * NOISE


def test_overscan_strip_at_an_edge():
    image = sky_frame()
    sides = set()
    for seed in range(6):
        dirty, truth = contaminate(image, classes=ALL, seed=seed)
        columns = np.flatnonzero(truth["OV"].all(axis=0))
        assert truth["OV"].sum() == columns.size * image.shape[0]  # full-height columns
        assert 10 <= columns.size <= 50
        assert np.all(np.diff(columns) == 1)
        assert columns[0] == 0 or columns[-1] == image.shape[1] - 1
        sides.add(int(columns[0] == 0))
        assert dirty[:, columns].mean() < SKY - 20 * NOISE
        for name in ALL[:-1]:
            assert not truth[name][:, columns].any(), name
    assert sides == {0, 1}


def test_ccddata_input():
    ccd = CCDData(sky_frame((80, 80)), unit="electron")
    dirty, truth = contaminate(ccd, classes=["HP"], seed=0)
    assert isinstance(dirty, np.ndarray) and truth["HP"].any()
    dirty, truth = inject_cosmic_rays(ccd, unit_hits(), number=3, seed=0)
    assert isinstance(dirty, np.ndarray) and truth.any()


def test_contaminate_errors():
    image = sky_frame((60, 60))
    with pytest.raises(ValueError, match="unknown class 'XYZ'.*HCL, DCL, HP, DP, TRL, SAT, OV"):
        contaminate(image, classes=["HP", "XYZ"])
    with pytest.raises(ValueError, match="CR is not simulated.*inject_cosmic_rays"):
        contaminate(image, classes=["CR"])
    with pytest.raises(ValueError, match="image: expected a 2-D real image"):
        contaminate(image[None, None])
    with pytest.raises(ValueError, match="saturation is only used with 'SAT'"):
        contaminate(image, classes=["HP"], saturation=5000.0)
    with pytest.raises(ValueError, match="must be above the image's sky median"):
        contaminate(image, classes=["SAT"], saturation=10.0)
    with pytest.raises(ValueError, match="positive sky level"):
        contaminate(image - SKY * 2, classes=["DP"])
    with pytest.raises(ValueError, match="no background noise"):
        contaminate(np.full((60, 60), 5.0), classes=["HP"])


# ---------------------------------------------------------------------------
# cosmic_rays_from_frame
# ---------------------------------------------------------------------------


def test_frame_hits_found_and_stars_rejected():
    image = sky_frame((120, 120))
    image[20, 30:33] += 800.0
    image[90:92, 100] += 600.0
    image[50, 60] += 900.0  # on the bright star (50, 60): left out
    copy = image.copy()
    hits = cosmic_rays_from_frame(read_only(image))
    np.testing.assert_array_equal(image, copy)
    assert sorted(int(f.sum()) for _, f in hits) == [2, 3]
    for values, footprint in hits:
        assert values.dtype == np.float32 and np.all(values[~footprint] == 0)
        assert values.max() > 500
    assert len(cosmic_rays_from_frame(image, min_pixels=3)) == 1
    with pytest.raises(ValueError, match="max_pixels must be at least 2"):
        cosmic_rays_from_frame(image, max_pixels=1)


def _section(text):
    """FITS section '[x0:x1,y0:y1]' -> numpy slices."""
    x, y = text.strip("[] ").split(",")
    x0, x1 = (int(v) for v in x.split(":"))
    y0, y1 = (int(v) for v in y.split(":"))
    return slice(y0 - 1, y1), slice(x0 - 1, x1)


def test_frame_hits_of_a_real_frame(realdata):
    with fits.open(realdata / "saao1m_ste3_raw.fits") as hdul:
        header, data = hdul[0].header, hdul[0].data.astype(np.float64)
    bias = np.median(data[_section(header["BIASSEC"])])
    electrons = (data[_section(header["TRIMSEC"])] - bias) * header["GAIN"]
    hits = cosmic_rays_from_frame(electrons)
    assert len(hits) >= 5
    for values, footprint in hits:
        assert 2 <= footprint.sum() <= 60
        assert np.all(values >= 0) and np.all(values[~footprint] == 0)
