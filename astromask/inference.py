"""Run the networks on whole images: the tile runner (arrays in, arrays out).

`predict_image` runs MaxiMask over an image in the tiles of
`astromask.tiling`, `predict_unet` runs a deepCR or Cosmic-CoNN UNet, and
`tile_scores` runs MaxiTrack; all three batch their tiles through
`run_tiles`.  Models come from `astromask.zoo`; no astropy here.  Inputs of
the cosmic-ray networks are prepared in `astromask.cosmicrays`, priors are
applied in `astromask.priors`.
"""

import contextlib
import logging
import warnings

import numpy as np

from astromask import tiling as tilings
from astromask import zoo
from astromask._backend import load_keras
from astromask._validate import check_device, whole_number

__all__ = [
    "check_batch_size",
    "device_scope",
    "predict_image",
    "predict_unet",
    "run_tiles",
    "threshold",
    "tile_scores",
]


def check_batch_size(value, default):
    """``batch_size`` as given (default when `None`), checked: a positive integer."""
    if value is None:
        return default
    return whole_number(value, "batch_size", minimum=1)


def device_scope(device):
    """The Keras device scope of ``device`` (a no-op for `None`)."""
    if check_device(device) is None:
        return contextlib.nullcontext()
    keras = load_keras()

    return keras.device(device)


class _NoRetracingNote(logging.Filter):
    """Drops TensorFlow's note that a predict function was traced again.

    Each tile shape has its network (`astromask.zoo.get_model`), built and
    traced once; TensorFlow counts those first traces as retracing and says
    so after five shapes, which tells a user nothing they can act on.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing():
    """`_NoRetracingNote` on the ``tensorflow`` logger while astromask predicts."""
    logger = logging.getLogger("tensorflow")
    note = _NoRetracingNote()
    logger.addFilter(note)
    try:
        yield
    finally:
        logger.removeFilter(note)


def _progress_bar(total, progress, desc):
    from tqdm.auto import tqdm

    # progress=None: let tqdm decide (shown on a terminal, hidden otherwise).
    disable = None if progress is None else not progress
    return tqdm(total=total, desc=desc, unit="tile", disable=disable, leave=False)


def run_tiles(net, coords, cut, *, batch_size, device=None, progress=False, desc=None):
    """Run ``net`` over tiles in batches; yield ``(coords, outputs)`` per batch.

    The one loop every tiled prediction uses (`predict_image`,
    `predict_unet`, `tile_scores`).

    Parameters
    ----------
    net : `keras.Model`
        The network.
    coords : list of (int, int)
        Tile positions, in the order they are run.
    cut : callable
        ``cut(batch_coords)`` returns the network input for those tiles.
    batch_size : int
        Tiles per network call.
    device : str, optional
        Keras device name.
    progress : bool, optional
        Progress bar over tiles; `None` shows it on a terminal only.
    desc : str, optional
        The progress bar's label.

    Yields
    ------
    batch : list of (int, int)
        The positions of this batch's tiles.
    outputs : `numpy.ndarray`
        float32 network output for them.
    """
    run = zoo.predictor(net)
    with (
        device_scope(device),
        _quiet_retracing(),
        _progress_bar(len(coords), progress, desc) as bar,
    ):
        for first in range(0, len(coords), batch_size):
            batch = coords[first : first + batch_size]
            yield batch, np.asarray(run(cut(batch)), dtype=np.float32)
            bar.update(len(batch))


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
    height, width = image.shape
    geometry = tilings.resolve_tiling(tiling)
    rows, columns = geometry.for_shape(height, width)
    tile_h, tile_w = rows.size, columns.size
    padded = image
    if height < tile_h or width < tile_w:
        pad = ((0, max(tile_h - height, 0)), (0, max(tile_w - width, 0)))
        padded = np.pad(image, pad, mode="symmetric")
    ys, xs = rows.starts(height), columns.starts(width)
    coords = [(y, x) for y in ys for x in xs]
    default = max(1, tilings.BATCH_PIXELS // (tile_h * tile_w))
    if isinstance(geometry, tilings.AutoTiling):
        # Upstream's geometry keeps upstream's batches (8, then the rest):
        # oneDNN's results depend on the batch shape, and they are upstream's.
        default = tilings.even_batch_size(len(coords), default)
    batch_size = check_batch_size(batch_size, default)
    net = zoo.get_model(model, (tile_h, tile_w), progress=progress, precision=precision)
    out = None

    def cut(batch):
        return np.stack([padded[y : y + tile_h, x : x + tile_w] for y, x in batch])[..., None]

    batches = run_tiles(
        net, coords, cut, batch_size=batch_size, device=device, progress=progress, desc=model
    )
    for batch, result in batches:
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
        A deepCR or Cosmic-CoNN network of the model table
        (`astromask.presets`), or a trained ``.keras`` file.
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
    tiling = tilings.resolve_tiling(tiling)
    if isinstance(tiling, tilings.AutoTiling):
        msg = "tiling: 'auto' is for MaxiMask; give the UNets a name, a Tiling or (size, margin)"
        raise ValueError(msg)
    if tiling.size % 4 or tiling.margin % 4:
        msg = f"tiling: UNet tiles need a size and margin that are multiples of 4, got {tiling}"
        raise ValueError(msg)
    batch_size = check_batch_size(batch_size, 4)
    _, height, width = channels.shape
    if height % 4 or width % 4:
        msg = f"channels: height and width must be multiples of 4, got {channels.shape}"
        raise ValueError(msg)
    tile_h, tile_w = min(tiling.size, height), min(tiling.size, width)
    coords = [(y, x) for y in tiling.starts(height) for x in tiling.starts(width)]
    net = zoo.get_model(model, (tile_h, tile_w), progress=progress, precision=precision)
    image = np.moveaxis(channels, 0, -1)
    if blend is not None:
        out = np.zeros((height, width), dtype=np.float32)
        total = np.zeros((height, width), dtype=np.float32)
    else:
        out = np.empty((height, width), dtype=np.float32)

    def cut(batch):
        tiles = np.stack([image[y : y + tile_h, x : x + tile_w] for y, x in batch])
        return tiles if prepare is None else prepare(tiles)

    batches = run_tiles(
        net, coords, cut, batch_size=batch_size, device=device, progress=progress, desc=model
    )
    for batch, result in batches:
        for (y, x), tile in zip(batch, result[..., 0]):
            if blend is None:
                y0, y1 = tiling.span(y, height)
                x0, x1 = tiling.span(x, width)
                out[y0:y1, x0:x1] = tile[y0 - y : y1 - y, x0 - x : x1 - x]
                continue
            weight = np.outer(
                tilings.blend_weights(y, tile_h, height, tiling.margin, blend),
                tilings.blend_weights(x, tile_w, width, tiling.margin, blend),
            )
            out[y : y + tile_h, x : x + tile_w] += weight * tile
            total[y : y + tile_h, x : x + tile_w] += weight
    if blend is not None:
        out /= total
    return out


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
    height, width = image.shape
    if height < size or width < size:
        msg = f"data: {model} needs an image of at least {size}x{size} pixels, got {height}x{width}"
        raise ValueError(msg)
    batch_size = check_batch_size(batch_size, 16)
    coords = [
        (y, x)
        for y in range(height % size, height - size + 1, size)
        for x in range(width % size, width - size + 1, size)
    ]
    net = zoo.get_model(model, (size, size))

    def cut(batch):
        return np.stack([image[y : y + size, x : x + size] for y, x in batch])[..., None]

    batches = run_tiles(net, coords, cut, batch_size=batch_size, device=device)
    return np.concatenate([result[:, 1] for _, result in batches])


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


# Names that moved in 0.1: where each lives now.  Kept for one release.
_MOVED = {
    "Tiling": "astromask.tiling",
    "AutoTiling": "astromask.tiling",
    "TILINGS": "astromask.tiling",
    "DEFAULT_TILING": "astromask.tiling",
    "BATCH_PIXELS": "astromask.tiling",
    "resolve_tiling": "astromask.tiling",
    "blend_weights": "astromask.tiling",
    "pad_to_multiple": "astromask.tiling",
    "apply_priors": "astromask.priors",
    "balanced_probability": "astromask.priors",
    "deepcr_probabilities": "astromask.cosmicrays",
    "cosmic_conn_probabilities": "astromask.cosmicrays",
    "cosmic_ray_probabilities": "astromask.cosmicrays",
    "subtract_tile_median": "astromask.cosmicrays",
    "COSMIC_CONN_FIELD": "astromask.cosmicrays",
}


def __getattr__(name):
    if name not in _MOVED:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    module = _MOVED[name]
    warnings.warn(
        f"astromask.inference.{name} is deprecated and will be removed in the next release; "
        f"use {module}.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)
