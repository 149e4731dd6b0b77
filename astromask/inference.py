"""Run the networks on whole images: tiling, batching, stitching and priors.

Arrays in, arrays out; no astropy here.  Models come from `astromask.zoo`.

Tiling
------
A `Tiling` cuts the normalised image into square tiles of ``size`` pixels
that overlap by ``2 * margin``.  Of each tile only the centre is kept (the
``margin``-wide border is dropped, except along the image's own edges), so
every pixel is predicted away from a tile border.  Tiles are written in
raster order and a later tile overwrites an earlier one, which reproduces
MaxiMask's stitching exactly for ``tiling="maximask"`` (400-px tiles, 200-px
stride).  Images smaller than a tile are mirror-padded to the tile size.

An `AutoTiling` (``tiling="auto"``, MaxiMask's default) sizes the tiles to
the image instead: as few tiles as fit under a maximum size, of equal size,
so that each pixel is computed about once instead of four times.
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astromask import classes

__all__ = [
    "TILINGS",
    "AutoTiling",
    "Tiling",
    "apply_priors",
    "balanced_probability",
    "deepcr_probabilities",
    "pad_to_multiple",
    "predict_image",
    "predict_unet",
    "resolve_tiling",
    "threshold",
    "tile_scores",
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

    >>> from astromask.inference import Tiling
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
    >>> from astromask.inference import AutoTiling
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

BATCH_PIXELS = 8 * 400 * 400
"""Pixels per network call when ``batch_size`` is not given: eight of
MaxiMask's 400-pixel tiles, one large tile of ``"auto"``."""


def resolve_tiling(tiling):
    """Turn ``None``, a name, a tiling or a ``(size, margin)`` pair into a tiling.

    Returns a `Tiling` or an `AutoTiling`; ``None`` is `DEFAULT_TILING`.

    Examples
    --------
    >>> from astromask.inference import resolve_tiling
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


def _batch_size(value, default):
    """``batch_size`` as given (default when `None`), checked."""
    value = default if value is None else int(value)
    if value < 1:
        msg = f"batch_size: must be at least 1, got {value}"
        raise ValueError(msg)
    return value


def _even_batch_size(count, largest):
    """The largest batch size up to ``largest`` that splits ``count`` tiles evenly.

    Every network call then has the same input shape, so the backends that
    compile a graph per shape (TensorFlow's ``tf.function``, JAX's XLA)
    compile once instead of again for a smaller last batch.  A batch under
    half of ``largest`` costs more in calls than a compilation saves, so
    ``largest`` is kept then.

    Examples
    --------
    >>> from astromask.inference import _even_batch_size
    >>> _even_batch_size(9, 2), _even_batch_size(12, 8), _even_batch_size(13, 8)
    (1, 6, 8)
    """
    for size in range(min(largest, count), 0, -1):
        if count % size == 0:
            return size if 2 * size >= min(largest, count) else largest
    return largest


def _progress_bar(total, progress, desc):
    from tqdm.auto import tqdm

    # progress=None: let tqdm decide (shown on a terminal, hidden otherwise).
    disable = None if progress is None else not progress
    return tqdm(total=total, desc=desc, unit="tile", disable=disable, leave=False)


def predict_image(
    image,
    *,
    model="maximask",
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
    reduce=None,
    precision=None,
):
    """Run a segmentation network over a normalised 2-D image.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D float32 image, normalised with `astromask.preprocess.normalize`.
    model : str, optional
        Model name in `astromask.zoo`.
    tiling : str, `Tiling`, `AutoTiling` or (int, int), optional
        Tile geometry (default ``"auto"``; ``"maximask"`` is upstream's).
    batch_size : int, optional
        Tiles per network call; lower it to save memory.  Default: as many
        as make about 1.3 megapixels (eight 400-pixel tiles, as upstream
        MaxiMask, or one large ``"auto"`` tile); with ``"auto"`` tiles, the
        batches are made equal where that costs less than half the batch, so
        the network is compiled for one shape only.
    device : str, optional
        Keras device name such as ``"cpu"`` or ``"gpu:0"``; default: Keras's
        choice.
    progress : bool, optional
        Show a progress bar over tiles; `None` shows it on a terminal only.
    reduce : callable, optional
        Applied to each tile's ``(n_classes, h, w)`` float32 probabilities,
        returning an ``(h, w)`` array (for example thresholded, bit-coded
        flags): the result is then the ``(ny, nx)`` map of those, and the
        whole frame's probabilities are never held in memory.
    precision : {"float32", "bfloat16", "float16"}, optional
        Compute precision (see `astromask.zoo.PRECISIONS`); default float32.

    Returns
    -------
    probabilities : `numpy.ndarray`
        float32 array of shape ``(n_classes, ny, nx)``, or with ``reduce``
        an ``(ny, nx)`` array of its dtype.

    Examples
    --------
    MaxiMask's 14 class probabilities on a small frame, in one 64-pixel
    tile:

    >>> from astromask.inference import predict_image
    >>> from astromask.preprocess import normalize
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((64, 64), seed=1)
    >>> image = normalize(ccd.data)
    >>> p = predict_image(image, tiling=(64, 16))  # doctest: +REMOTE_DATA
    >>> p.shape, p.dtype, bool(((p >= 0) & (p <= 1)).all())  # doctest: +REMOTE_DATA
    ((14, 64, 64), dtype('float32'), True)
    """
    from astromask import zoo

    height, width = image.shape
    geometry = resolve_tiling(tiling)
    rows, columns = geometry.for_shape(height, width)
    tile_h, tile_w = rows.size, columns.size
    padded = image
    if height < tile_h or width < tile_w:
        pad = ((0, max(tile_h - height, 0)), (0, max(tile_w - width, 0)))
        padded = np.pad(image, pad, mode="symmetric")
    ys, xs = rows.starts(height), columns.starts(width)
    coords = [(y, x) for y in ys for x in xs]
    default = max(1, BATCH_PIXELS // (tile_h * tile_w))
    if isinstance(geometry, AutoTiling):
        # Upstream's geometry keeps upstream's batches (8, then the rest):
        # oneDNN's results depend on the batch shape, and they are upstream's.
        default = _even_batch_size(len(coords), default)
    batch_size = _batch_size(batch_size, default)
    net = zoo.get_model(model, (tile_h, tile_w), progress=bool(progress), precision=precision)
    out = None
    with _device_scope(device), _progress_bar(len(coords), progress, model) as bar:
        for first in range(0, len(coords), batch_size):
            batch = coords[first : first + batch_size]
            tiles = np.stack([padded[y : y + tile_h, x : x + tile_w] for y, x in batch])
            result = np.asarray(net.predict_on_batch(tiles[..., None]), dtype=np.float32)
            for (y, x), tile in zip(batch, result):
                y0, y1 = rows.span(y, height)
                x0, x1 = columns.span(x, width)
                y1, x1 = min(y1, height), min(x1, width)
                part = np.moveaxis(tile[y0 - y : y1 - y, x0 - x : x1 - x], -1, 0)
                if reduce is not None:
                    part = np.asarray(reduce(part))
                if out is None:
                    out = np.empty((*part.shape[:-2], height, width), dtype=part.dtype)
                out[..., y0:y1, x0:x1] = part
            bar.update(len(batch))
    return out


def predict_unet(
    channels,
    *,
    model,
    tiling="deepcr",
    batch_size=None,
    device=None,
    progress=None,
    prepare=None,
    blend=None,
    precision=None,
):
    """Run a deepCR or Cosmic-CoNN network over a whole image, tile by overlapping tile.

    The image's edges are the network's own zero padding, as when the
    network runs on the whole frame at once; tile starts fall on multiples
    of 4 so the pooling grid is the whole frame's.  With a margin wider than
    the receptive field the result is the whole-frame result (for networks
    without group normalisation).

    Parameters
    ----------
    channels : `numpy.ndarray`
        ``(n_channels, ny, nx)`` float32 network input, ``ny`` and ``nx``
        multiples of 4 (see `pad_to_multiple`).
    model : str
        Model name in `astromask.zoo.DEEPCR_MODELS` or
        `astromask.zoo.COSMIC_CONN_MODELS`.
    tiling : str, `Tiling` or (int, int), optional
        Tile geometry; size and margin must be multiples of 4.
    batch_size : int, optional
        Tiles per network call (default 4).
    device : str, optional
        Keras device name.
    progress : bool, optional
        Progress bar over tiles; `None` shows one on a terminal only.
    prepare : callable, optional
        Applied to each ``(batch, h, w, c)`` stack of tiles before the
        network, for example a per-tile sky subtraction.
    blend : int, optional
        `None` (default): each pixel comes from one tile, the one it is
        farthest inside.  An int: overlapping tiles are averaged with the
        weights of `blend_weights`, ignoring this many pixels along the
        tiles' inner edges (at least the receptive field).  Networks whose
        output depends on the whole tile's statistics (group
        normalisation) then change smoothly from one tile to the next
        instead of jumping.
    precision : {"float32", "bfloat16", "float16"}, optional
        Compute precision (see `astromask.zoo.PRECISIONS`); default float32.

    Returns
    -------
    output : `numpy.ndarray`
        float32 ``(ny, nx)`` network output.

    Examples
    --------
    deepCR's ACS/WFC mask network on a 64x64 frame in 32-pixel tiles:

    >>> import numpy as np
    >>> from astromask.inference import predict_unet
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((64, 64), seed=1)
    >>> channels = ccd.data[None].astype(np.float32)
    >>> out = predict_unet(  # doctest: +REMOTE_DATA
    ...     channels, model="deepcr/ACS-WFC", tiling=(32, 8)
    ... )
    >>> out.shape, out.dtype  # doctest: +REMOTE_DATA
    ((64, 64), dtype('float32'))
    """
    from astromask import zoo

    tiling = resolve_tiling(tiling)
    if isinstance(tiling, AutoTiling):
        msg = "tiling: 'auto' is for MaxiMask; give the UNets a name, a Tiling or (size, margin)"
        raise ValueError(msg)
    if tiling.size % 4 or tiling.margin % 4:
        msg = f"tiling: UNet tiles need a size and margin that are multiples of 4, got {tiling}"
        raise ValueError(msg)
    batch_size = _batch_size(batch_size, 4)
    _, height, width = channels.shape
    if height % 4 or width % 4:
        msg = f"channels: height and width must be multiples of 4, got {channels.shape}"
        raise ValueError(msg)
    tile_h, tile_w = min(tiling.size, height), min(tiling.size, width)
    coords = [(y, x) for y in tiling.starts(height) for x in tiling.starts(width)]
    net = zoo.get_model(model, (tile_h, tile_w), progress=bool(progress), precision=precision)
    image = np.moveaxis(channels, 0, -1)
    if blend is not None:
        out = np.zeros((height, width), dtype=np.float32)
        total = np.zeros((height, width), dtype=np.float32)
    else:
        out = np.empty((height, width), dtype=np.float32)
    with _device_scope(device), _progress_bar(len(coords), progress, model) as bar:
        for first in range(0, len(coords), batch_size):
            batch = coords[first : first + batch_size]
            tiles = np.stack([image[y : y + tile_h, x : x + tile_w] for y, x in batch])
            if prepare is not None:
                tiles = prepare(tiles)
            result = np.asarray(net.predict_on_batch(tiles), dtype=np.float32)[..., 0]
            for (y, x), tile in zip(batch, result):
                if blend is None:
                    y0, y1 = tiling.span(y, height)
                    x0, x1 = tiling.span(x, width)
                    out[y0:y1, x0:x1] = tile[y0 - y : y1 - y, x0 - x : x1 - x]
                    continue
                weight = np.outer(
                    blend_weights(y, tile_h, height, tiling.margin, blend),
                    blend_weights(x, tile_w, width, tiling.margin, blend),
                )
                out[y : y + tile_h, x : x + tile_w] += weight * tile
                total[y : y + tile_h, x : x + tile_w] += weight
            bar.update(len(batch))
    if blend is not None:
        out /= total
    return out


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
    >>> from astromask.inference import pad_to_multiple
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


def deepcr_probabilities(
    image,
    bad=None,
    *,
    model="deepcr/ACS-WFC",
    tiling="deepcr",
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Cosmic-ray probability of each pixel from a deepCR mask network.

    The input is prepared as deepCR 0.3.1's ``deepCR.clean`` does: cast to
    float32, divided by the model's scale, standardised by the image mean
    and standard deviation for ``WFC3-UVIS``, padded at the top and left to
    a multiple of 4 (mirrored, where deepCR pads zeros; see
    `pad_to_multiple`).  Bad pixels (``bad`` and non-finite ones) are
    first replaced by the 5x5 masked median of their neighbours, so they
    neither poison nor take part in the statistics; without bad pixels the
    input is exactly deepCR's.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image in electrons (the units the networks were trained on).
    bad : `numpy.ndarray`, optional
        bool mask of pixels to ignore.
    model : str, optional
        A mask model of `astromask.zoo.DEEPCR_MODELS`.
    tiling, batch_size, device, progress, precision
        See `predict_unet`.

    Returns
    -------
    probabilities : `numpy.ndarray`
        float32 ``(ny, nx)``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.inference import deepcr_probabilities
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((64, 64), seed=1)
    >>> bad = np.zeros((64, 64), bool)
    >>> bad[0, :8] = True  # left out, filled from their neighbours first
    >>> p = deepcr_probabilities(ccd.data, bad)  # doctest: +REMOTE_DATA
    >>> p.shape, p.dtype, bool(((p >= 0) & (p <= 1)).all())  # doctest: +REMOTE_DATA
    ((64, 64), dtype('float32'), True)
    """
    from astromask import zoo

    spec = zoo.cosmic_ray_spec(model) if zoo.is_trained_model(model) else None
    spec = spec or zoo.DEEPCR_MODELS.get(model)
    if not isinstance(spec, zoo.DeepCRModel) or spec.kind != "mask":
        names = [n for n, s in zoo.DEEPCR_MODELS.items() if s.kind == "mask"]
        msg = f"model: {model!r} is not a deepCR mask model; choose among {', '.join(names)}"
        raise ValueError(msg)
    img, good = _fill_bad(image.astype(np.float32) / np.float32(spec.scale), bad)
    if spec.standardize and good.any():
        mean = img.mean() if good.all() else img[good].mean()
        std = img.std() if good.all() else img[good].std()
        img -= mean
        if std > 0:
            img /= std
    padded, pad = pad_to_multiple(img[None], 4)
    out = predict_unet(
        padded,
        model=model,
        tiling=tiling,
        batch_size=batch_size,
        device=device,
        progress=progress,
        precision=precision,
    )
    return out[pad[0] :, pad[1] :]


def _fill_bad(img, bad):
    """``img`` with bad and non-finite pixels replaced by their 5x5 masked median."""
    from astromask import inpainting

    good = np.isfinite(img)
    if bad is not None:
        good &= ~bad
    if not good.any():  # nothing to fill from: the network sees a blank frame
        img = np.zeros_like(img)
    elif not good.all():
        img = inpainting.inpaint_array(img, ~good, method="medmask").astype(np.float32)
    return img, good


COSMIC_CONN_FIELD = 24
"""int: pixels beyond which a Cosmic-CoNN output pixel sees no input (23,
measured on the convolutional network with batch norm folded)."""


def subtract_tile_median(tiles):
    """Subtract from each tile of a ``(batch, h, w, c)`` stack its median.

    The median is the lower of the two middle values for an even count, as
    ``torch.median`` (Cosmic-CoNN's sky estimate) takes it.
    """
    flat = tiles.reshape(len(tiles), -1)
    k = (flat.shape[1] - 1) // 2
    median = np.partition(flat, k, axis=1)[:, k]
    return tiles - median.reshape(-1, *([1] * (tiles.ndim - 1)))


def cosmic_conn_probabilities(
    image,
    bad=None,
    *,
    model="cosmic-conn/ground_imaging",
    tiling="cosmic-conn",
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Cosmic-ray probability of each pixel from a Cosmic-CoNN network.

    As ``cosmic-conn`` 0.6.1 does, each tile has its own median subtracted
    (the sky) and goes through the network unscaled; a frame no larger than
    one tile is one network call, exactly as upstream.  The DECam networks
    of Bhavanam et al. (``"decam-attention/..."``, same architecture) keep
    the sky, as they were trained (`astromask.zoo.CosmicConnModel.sky`).
    Unlike upstream:

    * larger frames are cut into overlapping tiles (the ``"cosmic-conn"``
      tiling: 1024 pixels, as upstream, overlapping by 128).  The network's
      group normalisation makes each output depend on its whole tile's
      statistics, so two tiles disagree on the pixels they share (on the
      LCO 0.4 m frame of the docs by up to 0.7 in probability on a few
      faint hits); upstream's abutting tiles switch statistics abruptly
      and see their zero padding along every tile edge.  Here the
      overlapping predictions are blended with weights that are zero
      within the receptive field of a tile's inner edge and ramp linearly
      to one (`blend_weights`), so the probability map is seamless;
    * every pixel is scored (upstream leaves the last ``ny % 16`` rows and
      ``nx % 16`` columns of each stamp at 0); frames whose sides are not
      multiples of 4 are mirror-padded at the top and left (see
      `pad_to_multiple`);
    * bad and non-finite pixels are first replaced by the 5x5 masked
      median of their neighbours (upstream sets NaNs to 0, in the caller's
      array); the caller's array is never modified.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image in the model's unit (`astromask.zoo.CosmicConnModel.unit`:
        electrons for Cosmic-CoNN's, ADU for the DECam networks).
    bad : `numpy.ndarray`, optional
        bool mask of pixels to ignore.
    model : str, optional
        A model of `astromask.zoo.COSMIC_CONN_MODELS`.
    tiling : str, `Tiling` or (int, int), optional
        Tile geometry (default 1024-pixel tiles, as Cosmic-CoNN); see
        `predict_unet`.
    batch_size : int, optional
        Tiles per network call (default 1: a 1024x1024 tile already takes
        about 1 GB of activations).
    device, progress, precision
        See `predict_unet`.

    Returns
    -------
    probabilities : `numpy.ndarray`
        float32 ``(ny, nx)``.
    """
    from astromask import zoo

    spec = zoo.cosmic_ray_spec(model) if zoo.is_trained_model(model) else None
    spec = spec or zoo.COSMIC_CONN_MODELS.get(model)
    if not isinstance(spec, zoo.CosmicConnModel):
        msg = f"model: {model!r} is not a Cosmic-CoNN-type model; choose among " + ", ".join(
            zoo.COSMIC_CONN_MODELS
        )
        raise ValueError(msg)
    img, _ = _fill_bad(image.astype(np.float32), bad)
    padded, pad = pad_to_multiple(img[None], 4)
    out = predict_unet(
        padded,
        model=model,
        tiling=tiling,
        batch_size=_batch_size(batch_size, 1),
        device=device,
        progress=progress,
        prepare=subtract_tile_median if spec.sky == "tile median" else None,
        blend=COSMIC_CONN_FIELD,
        precision=precision,
    )
    return out[pad[0] :, pad[1] :]


def cosmic_ray_probabilities(image, bad=None, *, model, tiling=None, **kwargs):
    """Cosmic-ray probabilities from any network of `astromask.zoo.cosmic_ray_models`.

    Dispatches to `deepcr_probabilities` or `cosmic_conn_probabilities`, with
    the model family's default tiling when ``tiling`` is `None`; other
    keyword arguments are passed on.  ``model`` may also be the path of a
    model written by `astromask.train`.
    """
    from astromask import zoo

    spec = zoo.cosmic_ray_spec(model)
    if zoo.is_trained_model(model):
        model = str(Path(model).resolve())
    if isinstance(spec, zoo.CosmicConnModel):
        tiling = "cosmic-conn" if tiling is None else tiling
        out = cosmic_conn_probabilities(image, bad, model=model, tiling=tiling, **kwargs)
    else:
        tiling = "deepcr" if tiling is None else tiling
        out = deepcr_probabilities(image, bad, model=model, tiling=tiling, **kwargs)
    if spec.balanced_prior:  # trained with class-balanced weights
        out = balanced_probability(out, spec.balanced_prior)
    return out


def balanced_probability(probabilities, positive_fraction):
    """Map the output of a class-balanced network to calibrated probabilities.

    Bayes' rule with the prior changed from one half (what the balanced
    loss makes the network assume) to ``positive_fraction`` (the
    cosmic-ray pixel fraction of the data), as MaxiMask's prior correction
    (Paillassa et al. 2020, sect. 5): ``p' = p f / (p f + (1 - p)(1 - f))``.
    The ranking of pixels, hence any ROC, is unchanged.

    Examples
    --------
    >>> from astromask.inference import balanced_probability
    >>> round(float(balanced_probability(0.5, 0.01)), 6)
    0.01
    """
    p = np.asarray(probabilities, dtype=np.float32)
    f = np.float32(positive_fraction)
    return p * f / (p * f + (1 - p) * (1 - f))


def _device_scope(device):
    if device is None:
        return contextlib.nullcontext()
    import keras

    return keras.device(device)


def tile_scores(image, *, model="maxitrack", size=400, batch_size=None, device=None):
    """Scores of an image-level network on non-overlapping tiles.

    Tiles of ``size`` pixels are anchored at ``(ny mod size, nx mod size)``,
    so the rows and columns left over sit at the top and left, as upstream
    MaxiTrack does.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D float32 normalised image, at least ``size`` pixels on each side.
    model : str, optional
        Model name in `astromask.zoo` whose output column 1 is the score.
    size : int, optional
        Tile size.
    batch_size : int, optional
        Tiles per network call (default 16).
    device : str, optional
        Keras device name.

    Returns
    -------
    scores : `numpy.ndarray`
        float32 score of each tile, in raster order.

    Examples
    --------
    MaxiTrack's score (1: tracking was lost) of the one 400-pixel tile of
    a frame:

    >>> from astromask.inference import tile_scores
    >>> from astromask.preprocess import normalize
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((400, 400), seed=1)
    >>> scores = tile_scores(normalize(ccd.data))  # doctest: +REMOTE_DATA
    >>> scores.shape, scores.dtype, bool(0 <= scores[0] <= 1)  # doctest: +REMOTE_DATA
    ((1,), dtype('float32'), True)
    """
    from astromask import zoo

    height, width = image.shape
    if height < size or width < size:
        msg = f"data: {model} needs an image of at least {size}x{size} pixels, got {height}x{width}"
        raise ValueError(msg)
    batch_size = _batch_size(batch_size, 16)
    coords = [
        (y, x)
        for y in range(height % size, height - size + 1, size)
        for x in range(width % size, width - size + 1, size)
    ]
    net = zoo.get_model(model, (size, size))
    scores = []
    with _device_scope(device):
        for first in range(0, len(coords), batch_size):
            batch = coords[first : first + batch_size]
            tiles = np.stack([image[y : y + size, x : x + size] for y, x in batch])
            scores.append(np.asarray(net.predict_on_batch(tiles[..., None]))[:, 1])
    return np.concatenate(scores).astype(np.float32)


def apply_priors(probabilities, priors, *, index=None):
    """Correct probabilities for observing priors (Paillassa et al. 2020, sect. 5).

    The network was trained with class frequencies ``t`` (the training
    priors); for a class expected with frequency ``q`` in the data,
    ``p' = p / (p + f (1 - p))`` with ``f = t / (1 - t) * (1 - q) / q``.
    Computed in float32 in the same order as upstream.

    Parameters
    ----------
    probabilities : `numpy.ndarray`
        ``(n, ...)`` float32 probabilities of the classes ``index``.
    priors : `numpy.ndarray`
        float32 observing priors of those classes.
    index : array of int, optional
        Class indices of the rows (default: all 14 in order).

    Returns
    -------
    corrected : `numpy.ndarray`

    Examples
    --------
    A cosmic-ray probability of 0.5 under MaxiMask's training prior (0.01)
    drops when cosmic rays are expected ten times less often:

    >>> import numpy as np
    >>> from astromask.inference import apply_priors
    >>> p = np.full((1, 2, 2), 0.5, np.float32)
    >>> float(apply_priors(p, [0.01], index=[0])[0, 0, 0])
    0.5
    >>> round(float(apply_priors(p, [0.001], index=[0])[0, 0, 0]), 4)
    0.0902
    """
    train = classes.training_priors()
    if index is not None:
        train = train[index]
    priors = np.asarray(priors, dtype=np.float32)
    factors = (train / (1 - train)) * ((1 - priors) / priors)
    factors = factors.reshape((-1,) + (1,) * (probabilities.ndim - 1))
    p = probabilities.astype(np.float32, copy=False)
    # p / (p + factors * (1 - p)), in one buffer: the same float32 operations
    # in the same order, without three temporaries the size of the input.
    out = np.subtract(np.float32(1), p, dtype=np.float32)
    out *= factors
    out += p
    return np.divide(p, out, out=out)


def threshold(probabilities, thresholds):
    """Return ``probabilities > thresholds`` per class (strict, as upstream).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.inference import threshold
    >>> p = np.array([[[0.2, 0.5, 0.7]], [[0.2, 0.5, 0.7]]], np.float32)  # 2 classes
    >>> threshold(p, [0.5, 0.1]).tolist()
    [[[False, False, True]], [[True, True, True]]]
    """
    thresholds = np.asarray(thresholds, dtype=np.float32)
    return probabilities > thresholds.reshape((-1,) + (1,) * (probabilities.ndim - 1))
