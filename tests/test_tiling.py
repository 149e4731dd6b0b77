"""Tile geometries: `AutoTiling` (the default) and the stitching of `predict_image`."""

import numpy as np
import pytest

from astromask import inference, tiling
from astromask.tiling import AutoTiling, Tiling

LENGTHS = [1, 31, 399, 400, 401, 1000, 1024, 1025, 1153, 1523, 2048, 2049, 4096, 6000, 8192]


def _coverage(tiling, length):
    """How many times each pixel of the axis is written, and the tiles' starts."""
    written = np.zeros(length, int)
    starts = tiling.starts(length)
    for start in starts:
        lo, hi = tiling.span(start, length)
        assert start <= lo < hi <= start + tiling.size
        written[lo : min(hi, length)] += 1
    return written, starts


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("geometry", [AutoTiling(), AutoTiling(512, 32), AutoTiling(1024, 128)])
def test_auto_tiles_cover_each_axis_with_the_fewest_tiles(geometry, length):
    tiling = geometry.axis(length)
    written, starts = _coverage(tiling, length)
    # Every pixel is written, and only the overlaps twice (the later tile wins).
    assert written.min() >= 1 and written.max() <= 2
    if length <= geometry.max_size:
        assert starts == [0] and tiling.size == max(length, geometry.min_size)
        return
    assert tiling.size <= geometry.max_size and tiling.size % 32 == 0
    # The fewest tiles of at most max_size that overlap by 2 * margin.
    inner = geometry.max_size - 2 * geometry.margin
    assert len(starts) == -(-(length - 2 * geometry.margin) // inner)
    # Kept parts are away from inner tile edges by the margin.
    for start in starts[1:]:
        assert tiling.span(start, length)[0] - start >= geometry.margin
    # Far less work than upstream's geometry (3.9 times the area at 2048).
    assert len(starts) * tiling.size / length < 1.4


def test_auto_tiles_of_a_2048_frame_and_of_a_decam_ccd():
    rows, columns = AutoTiling().for_shape(2048, 2048)
    assert rows == columns == Tiling(1056, 32)  # 2 x 2 tiles, 1.06 times the area
    assert tiling.resolve_tiling(None) == AutoTiling(1152, 32)
    rows, columns = tiling.resolve_tiling("auto").for_shape(4096, 2048)
    assert (rows.size, columns.size) == (1088, 1056)
    assert (len(rows.starts(4096)), len(columns.starts(2048))) == (4, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(max_size=1000), "multiple of 32"),
        (dict(max_size=512, min_size=600), "at least min_size"),
        (dict(margin=200), "exceed 2 \\* margin"),
    ],
)
def test_bad_auto_tilings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutoTiling(**kwargs)


class _ShapeRecorder:
    """Stands in for a network: records each call's input shape, returns zeros."""

    input_shape = (None, 1, 1, 1)  # a fixed shape: run through predict_on_batch

    def __init__(self):
        self.shapes = []

    def predict_on_batch(self, tiles):
        self.shapes.append(tiles.shape)
        return np.zeros((*tiles.shape[:3], 14), np.float32)


@pytest.mark.parametrize(
    ("tiling", "batches"),
    [
        # Ten 480x352 tiles, seven to a call by default: two calls of five.
        (AutoTiling(512, 32), [5, 5]),
        # Upstream's geometry keeps upstream's batches: eight, then the rest.
        ("maximask", [8] * 12 + [4]),
    ],
)
def test_auto_tiles_go_in_equal_batches(monkeypatch, tiling, batches):
    from astromask import zoo

    net = _ShapeRecorder()
    monkeypatch.setattr(zoo, "get_model", lambda *args, **kwargs: net)
    image = np.zeros((2000, 600) if tiling != "maximask" else (2048, 2048), np.float32)
    out = inference.predict_image(image, tiling=tiling, progress=False)
    assert out.shape == (14, *image.shape)
    assert [shape[0] for shape in net.shapes] == batches
    assert len({shape[1:] for shape in net.shapes}) == 1


@pytest.mark.parametrize(
    ("count", "largest", "expected"), [(9, 2, 1), (4, 1, 1), (12, 8, 6), (13, 8, 8), (3, 8, 3)]
)
def test_even_batch_size(count, largest, expected):
    size = tiling.even_batch_size(count, largest)
    assert size == expected
    assert size <= largest and (count % size == 0 or size == largest)


def test_unets_refuse_auto_tiling():
    channels = np.zeros((1, 64, 64), np.float32)
    with pytest.raises(ValueError, match="'auto' is for MaxiMask"):
        inference.predict_unet(channels, model="deepcr/ACS-WFC", tiling="auto")


@pytest.mark.remote_data
def test_auto_tiles_are_stitched_from_the_network_on_each_tile():
    """A 1100x500 frame: two 640x500 tiles, each kept beyond its inner margin."""
    from astromask import zoo
    from astromask.preprocess import normalize
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((1100, 500), seed=2)
    image = normalize(ccd.data)
    geometry = AutoTiling(1024, 64)  # the default's tiles are larger: one here
    # One tile per call, as below (kernels may round differently per batch shape).
    out = inference.predict_image(image, tiling=geometry, batch_size=1, progress=False)
    rows, columns = geometry.for_shape(*image.shape)
    assert (rows, columns) == (Tiling(640, 64), Tiling(500, 64))
    assert rows.starts(1100) == [0, 460]
    net = zoo.get_model("maximask", (640, 500))
    first = np.asarray(net.predict_on_batch(image[None, :640, :, None]))[0]
    second = np.asarray(net.predict_on_batch(image[None, 460:, :, None]))[0]
    np.testing.assert_array_equal(out[:, :524], np.moveaxis(first[:524], -1, 0))
    np.testing.assert_array_equal(out[:, 524:], np.moveaxis(second[64:], -1, 0))
