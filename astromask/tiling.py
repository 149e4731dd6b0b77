"""Tile geometry: how an image is cut into network tiles (numpy only).

A `Tiling` cuts the image into square tiles of ``size`` pixels that overlap
by ``2 * margin``.  Of each tile only the centre is kept (the
``margin``-wide border is dropped, except along the image's own edges), so
every pixel is predicted away from a tile border.  Tiles are written in
raster order and a later tile overwrites an earlier one, which reproduces
MaxiMask's stitching exactly for ``tiling="maximask"`` (400-px tiles, 200-px
stride).  Images smaller than a tile are mirror-padded to the tile size.

An `AutoTiling` (``tiling="auto"``, MaxiMask's default) sizes the tiles to
the image instead: as few tiles as fit under a maximum size, of equal size,
so that each pixel is computed about once instead of four times.

This module is a leaf: numpy only.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BATCH_PIXELS",
    "DEFAULT_TILING",
    "MAXIMASK_TILINGS",
    "TILINGS",
    "AutoTiling",
    "Tiling",
    "blend_weights",
    "even_batch_size",
    "pad_to_multiple",
    "resolve_tiling",
]


@dataclass(frozen=True)
class Tiling:
    """Tile geometry.

    Parameters
    ----------
    size : int
        Side of the square tiles, in pixels.
    margin : int
        Width of the border dropped from each tile where it overlaps its
        neighbour; the stride between tiles is ``size - 2 * margin``.

    Examples
    --------
    Two 64-pixel tiles cover 100 pixels; each writes up to the middle of
    their overlap:

    >>> from astromask.tiling import Tiling
    >>> tiling = Tiling(64, 8)
    >>> tiling.stride, tiling.starts(100)
    (48, [0, 36])
    >>> tiling.span(0, 100), tiling.span(36, 100)
    ((0, 56), (44, 100))
    """

    size: int
    margin: int

    def __post_init__(self):
        if self.size < 32 or self.margin < 0 or self.size - 2 * self.margin < 1:
            msg = (
                f"tiling: size={self.size}, margin={self.margin} is not a valid "
                "geometry; size must be at least 32 and exceed 2 * margin"
            )
            raise ValueError(msg)

    @property
    def stride(self):
        """Distance between the starts of neighbouring tiles."""
        return self.size - 2 * self.margin

    def starts(self, length):
        """Tile start positions along an axis of ``length`` pixels."""
        if length <= self.size:
            return [0]
        starts = list(range(0, length - self.size + 1, self.stride))
        if starts[-1] != length - self.size:
            starts.append(length - self.size)
        return starts

    def span(self, start, length):
        """The part ``[lo, hi)`` of the axis that the tile at ``start`` writes."""
        last = max(length - self.size, 0)
        lo = 0 if start == 0 else start + self.margin
        hi = length if start == last else start + self.size - self.margin
        return lo, hi

    def for_shape(self, height, width):
        """The geometry along the rows and the columns: this one on both."""
        return self, self


@dataclass(frozen=True)
class AutoTiling:
    """Tiles sized to the image: few, large, barely overlapping.

    Along each axis the image is cut into the fewest tiles of at most
    ``max_size`` pixels that overlap by ``2 * margin``, all of one size (a
    multiple of 32, so that the network's five 2x2 poolings fall on the same
    grid in neighbouring tiles); an axis of at most ``max_size`` pixels is
    one tile, mirror-padded to ``min_size`` when shorter.  Tiles need not be
    square.  Compared with MaxiMask's own geometry (``"maximask"``, which
    computes each pixel four times), a 2048x2048 frame takes four 1056x1056
    tiles, 1.06 times its area instead of 3.9; how far that moves the
    probabilities is measured by ``benchmarks/tiling_deviation.py`` and
    documented in :doc:`/performance`.

    Parameters
    ----------
    max_size : int
        Largest tile side, in pixels; memory per tile grows with its area.
    margin : int
        Border dropped from each tile where it overlaps a neighbour.
    min_size : int
        Smallest tile side: shorter images are mirror-padded to it.

    Examples
    --------
    >>> from astromask.tiling import AutoTiling
    >>> rows, columns = AutoTiling().for_shape(2048, 4096)
    >>> rows, columns
    (Tiling(size=1056, margin=32), Tiling(size=1088, margin=32))
    >>> rows.starts(2048), columns.starts(4096)
    ([0, 992], [0, 1024, 2048, 3008])
    >>> AutoTiling(1024, 64).for_shape(300, 1000)  # one tile, padded to 400 rows
    (Tiling(size=400, margin=64), Tiling(size=1000, margin=64))
    """

    max_size: int = 1152
    margin: int = 32
    min_size: int = 400

    def __post_init__(self):
        if self.max_size % 32 or not 2 * self.margin < self.min_size <= self.max_size:
            msg = (
                f"tiling: {self} is not a valid geometry; max_size must be a multiple "
                "of 32, at least min_size, and min_size must exceed 2 * margin"
            )
            raise ValueError(msg)

    def axis(self, length):
        """The `Tiling` along an axis of ``length`` pixels."""
        if length <= self.max_size:
            return Tiling(max(length, self.min_size), self.margin)
        inner = length - 2 * self.margin
        count = -(-inner // (self.max_size - 2 * self.margin))
        size = -(-inner // count) + 2 * self.margin
        return Tiling(min(-(-size // 32) * 32, self.max_size), self.margin)

    def for_shape(self, height, width):
        """The `Tiling` along the rows and along the columns of an image."""
        return self.axis(height), self.axis(width)


TILINGS = {
    "auto": AutoTiling(1152, 32),
    "maximask": Tiling(400, 100),
    "deepcr": Tiling(512, 32),
    "cosmic-conn": Tiling(1024, 64),
}
"""dict of str to `Tiling` or `AutoTiling`: named geometries.  ``"auto"``, the
default for MaxiMask, sizes its tiles to the image; ``"maximask"`` is upstream's;
``"deepcr"`` overlaps its tiles by more than the deepCR networks' receptive
field (at most 23 pixels for the three-level UNet), so tiled results equal
whole-frame ones.  ``"cosmic-conn"`` has the 1024-pixel tiles upstream
uses, overlapping by 128 pixels in which neighbouring tiles are blended
(Cosmic-CoNN's group normalisation sees each tile's own statistics, so
tiles do not agree exactly; see `cosmic_conn_probabilities`)."""

DEFAULT_TILING = "auto"

MAXIMASK_TILINGS = ("auto", "maximask")
"""tuple of str: the named tilings offered for MaxiMask (the others are the UNets')."""

BATCH_PIXELS = 8 * 400 * 400
"""Pixels per network call when ``batch_size`` is not given: eight of
MaxiMask's 400-pixel tiles, one large tile of ``"auto"``."""


def resolve_tiling(tiling):
    """Turn ``None``, a name, a tiling or a ``(size, margin)`` pair into a tiling.

    Returns a `Tiling` or an `AutoTiling`; ``None`` is `DEFAULT_TILING`.

    Examples
    --------
    >>> from astromask.tiling import resolve_tiling
    >>> resolve_tiling(None), resolve_tiling("maximask")
    (AutoTiling(max_size=1152, margin=32, min_size=400), Tiling(size=400, margin=100))
    >>> resolve_tiling((64, 8))
    Tiling(size=64, margin=8)
    """
    if tiling is None:
        tiling = DEFAULT_TILING
    if isinstance(tiling, (Tiling, AutoTiling)):
        return tiling
    if isinstance(tiling, str):
        try:
            return TILINGS[tiling]
        except KeyError:
            msg = (
                f"tiling: unknown tiling {tiling!r}; use one of {', '.join(TILINGS)}, "
                "a Tiling, or a (size, margin) pair"
            )
            raise ValueError(msg) from None
    try:
        size, margin = (int(v) for v in tiling)
    except (TypeError, ValueError):
        msg = (
            "tiling: expected a name, a Tiling, an AutoTiling or a (size, margin) pair, "
            f"got {tiling!r}"
        )
        raise TypeError(msg) from None
    return Tiling(size, margin)


def even_batch_size(count, largest):
    """The largest batch size up to ``largest`` that splits ``count`` tiles evenly.

    Every network call then has the same input shape, so the backends that
    compile a graph per shape (TensorFlow's ``tf.function``, JAX's XLA)
    compile once instead of again for a smaller last batch.  A batch under
    half of ``largest`` costs more in calls than a compilation saves, so
    ``largest`` is kept then.

    Examples
    --------
    >>> from astromask.tiling import even_batch_size
    >>> even_batch_size(9, 2), even_batch_size(12, 8), even_batch_size(13, 8)
    (1, 6, 8)
    """
    for size in range(min(largest, count), 0, -1):
        if count % size == 0:
            return size if 2 * size >= min(largest, count) else largest
    return largest


def blend_weights(start, size, length, margin, ignore):
    """Weights along one axis of a tile for blending overlapping tiles.

    Zero on the ``ignore`` pixels next to an edge of the tile that is inside
    the frame (where the network saw its zero padding), then rising linearly
    to 1 at ``2 * margin - ignore`` pixels from that edge; 1 along the
    frame's own edges.  Where neighbouring tiles overlap by ``2 * margin``
    (a `Tiling`'s stride), their weights sum to 1.
    """
    centre = np.arange(size) + 0.5

    def ramp(distance):
        if margin <= ignore:
            msg = f"tiling: blending tiles needs a margin above {ignore} pixels, got {margin}"
            raise ValueError(msg)
        return np.clip((distance - ignore) / (2 * margin - 2 * ignore), 0, 1)

    weights = np.ones(size, dtype=np.float32)
    if start > 0:
        weights *= ramp(centre)
    if start + size < length:
        weights *= ramp(size - centre)
    return weights


def pad_to_multiple(channels, multiple):
    """Pad ``(c, ny, nx)`` at the top and left to multiples of ``multiple``.

    deepCR pads the same sides, but with zeros: on frames with a high sky
    level the network then flags the step between the zeros and the sky (on
    the DECam cut-outs of the docs, a 3-pixel strip along the whole left
    edge).  The padding here mirrors the frame instead, which leaves the
    network no edge to see.  Frames whose sides are already multiples of 4
    are not padded, and then match deepCR exactly.

    Returns the padded array and the ``(rows, columns)`` added.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.tiling import pad_to_multiple
    >>> channels = np.zeros((1, 30, 33), np.float32)
    >>> padded, pad = pad_to_multiple(channels, 4)
    >>> padded.shape, pad
    ((1, 32, 36), (2, 3))
    >>> pad_to_multiple(padded, 4)[1]  # already multiples of 4
    (0, 0)
    """
    pad = (-channels.shape[1] % multiple, -channels.shape[2] % multiple)
    if pad == (0, 0):
        return channels, pad
    return np.pad(channels, ((0, 0), (pad[0], 0), (pad[1], 0)), mode="symmetric"), pad
