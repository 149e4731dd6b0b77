"""Training and fine-tuning cosmic-ray networks on your own instrument.

Most of what a cosmic-ray network gains comes from training on the
instrument it is used on (Bhavanam et al.; Zhang & Bloom 2020).  This module
turns frames of that instrument into training tiles and fits any of
astromask's UNets to them:

* `TileDataset`, a `keras.utils.PyDataset` that streams tiles from FITS
  files (memory-mapped, one section at a time, so a survey never has to fit
  in memory) or arrays, with deepCR's sky-level augmentation (add up to 3
  times, subtract up to 0.9 times the sky: Zhang & Bloom 2020, sect. 3.1),
  cosmic-ray hits injected on the fly (`astromask.simulate`), random 90 degree
  rotations and flips, and per-pixel loss weights;
* `class_balance_weights`, MaxiMask's class-balance weighting smoothed by a
  3x3 Gaussian (Paillassa et al. 2020, sect. 3.1.2);
* `train`, which fits a network from a pretrained model, a trained file or
  a bare architecture with binary cross-entropy and Adam, deepCR's two-phase
  batch-norm schedule, its learning-rate decay on plateau and stopping rule,
  per-epoch TPR at fixed FPR on held-out tiles (`astromask.metrics`), and
  checkpoints in Keras' own format that every ``model=`` argument accepts.

Nothing here is specific to a Keras backend: training runs on TensorFlow,
JAX or PyTorch, on CPU or GPU.
"""

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
from scipy import ndimage

from astromask import zoo
from astromask._backend import load_keras
from astromask._validate import (
    as_image,
    check_device,
    number,
    path_argument,
    probability,
    whole_number,
)
from astromask.convert.batchnorm import fold_batchnorm_arrays
from astromask.cosmicrays import standardize, subtract_tile_median
from astromask.inference import device_scope
from astromask.io.paths import parse_hdu_suffix
from astromask.presets import CosmicConnModel, DeepCRModel

keras = load_keras()

__all__ = [
    "TileDataset",
    "augment_sky",
    "class_balance_weights",
    "fold_batchnorm",
    "network_input",
    "random_orientation",
    "train",
]

SKY_RANGE = (-0.9, 3.0)
"""tuple of float: deepCR's sky augmentation, in units of the tile's sky."""


def augment_sky(tile, alpha, *, sky=None):
    """Add ``alpha`` times the sky to a tile (deepCR's augmentation).

    Adding ``alpha * sky`` to a frame mimics an exposure ``1 + alpha`` times
    as long with its sources ``1 + alpha`` times fainter, while the
    cosmic-ray hits, whose counts do not depend on the exposure time, stay
    as they are (Zhang & Bloom 2020, sect. 3.1).  Apply it before injecting
    hits.

    Parameters
    ----------
    tile : `numpy.ndarray`
        Image with its sky (not sky-subtracted).
    alpha : float
        Multiple of the sky to add; deepCR draws it from [-0.9, 3].
    sky : float, optional
        Sky level; default the tile's median.  Nothing is added when it is
        not positive (a sky-subtracted tile).

    Returns
    -------
    tile : `numpy.ndarray`
        A new float32 array.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.training import augment_sky
    >>> float(augment_sky(np.full((2, 2), 100.0), 0.5)[0, 0])
    150.0
    """
    tile = np.asarray(tile, dtype=np.float32)
    if sky is None:
        sky = float(np.median(tile))
    if not sky > 0:
        return tile.copy()
    return tile + np.float32(alpha * sky)


def random_orientation(arrays, rng):
    """Rotate and flip arrays alike by one of the 8 symmetries of the square.

    Parameters
    ----------
    arrays : sequence of `numpy.ndarray`
        2-D arrays of the same shape.
    rng : `numpy.random.Generator`
        Source of the choice.

    Returns
    -------
    arrays : list of `numpy.ndarray`
        The transformed arrays (views where possible).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.training import random_orientation
    >>> image = np.arange(6).reshape(2, 3)
    >>> turned, mask = random_orientation([image, image > 2], np.random.default_rng(1))
    >>> turned.shape, bool(np.array_equal(mask, turned > 2))
    ((2, 3), True)
    """
    turns = int(rng.integers(4))
    flip = bool(rng.integers(2))
    out = []
    for array in arrays:
        array = np.rot90(array, turns)
        out.append(array.T if flip else array)
    return out


def class_balance_weights(truth, positive_fraction, *, ignore=None, smooth=True):
    """Per-pixel loss weights balancing cosmic-ray and other pixels.

    MaxiMask's weighting (Paillassa et al. 2020, sect. 3.1.2) for two
    classes: a pixel of a class that makes up a fraction ``f`` of the
    training set weighs ``1 / (2 f)``, so both classes carry half of the
    loss and the mean weight over the training set is 1.  The weight map is
    then smoothed by a 3x3 Gaussian of unit standard deviation, so the
    background right next to a hit, decisive for the classification, is not
    drowned.  A network trained this way outputs probabilities for a
    cosmic-ray prior of one half;
    `astromask.priors.balanced_probability` maps them back.

    Parameters
    ----------
    truth : `numpy.ndarray` of bool
        ``(..., ny, nx)`` cosmic-ray pixels.
    positive_fraction : float
        Fraction of cosmic-ray pixels in the training set, in (0, 1).
    ignore : `numpy.ndarray` of bool, optional
        Pixels left out of the loss (weight 0), applied after smoothing.
    smooth : bool, optional
        Smooth the weights (default).

    Returns
    -------
    weights : `numpy.ndarray`
        float32, the shape of ``truth``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.training import class_balance_weights
    >>> truth = np.zeros((5, 5), bool)
    >>> truth[2, 2] = True
    >>> w = class_balance_weights(truth, 0.04, smooth=False)
    >>> float(w[2, 2]), float(w[0, 0])
    (12.5, 0.5208333134651184)
    """
    if not 0 < positive_fraction < 1:
        msg = f"positive_fraction: must lie in (0, 1), got {positive_fraction}"
        raise ValueError(msg)
    truth = np.asarray(truth, dtype=bool)
    weights = np.where(truth, 0.5 / positive_fraction, 0.5 / (1 - positive_fraction)).astype(
        np.float32
    )
    if smooth:
        sigma = [0] * (weights.ndim - 2) + [1, 1]
        weights = ndimage.gaussian_filter(weights, sigma, truncate=1.0, mode="nearest")
    if ignore is not None:
        weights[np.asarray(ignore, dtype=bool)] = 0
    return weights


def network_input(tiles, spec):
    """Prepare a stack of tiles the way a network expects its input.

    deepCR-type networks (`astromask.presets.DeepCRModel`): divided by the
    model's scale and, for standardised models, standardised per tile
    (`astromask.cosmicrays.standardize`, the rule of inference, where it
    applies to the whole frame: a training tile stands for a frame).
    Cosmic-CoNN-type networks (`astromask.presets.CosmicConnModel`): each
    tile's median subtracted when the network's sky convention is ``"tile
    median"``, otherwise as they are.

    Parameters
    ----------
    tiles : `numpy.ndarray`
        ``(batch, h, w)`` images in the model's unit.
    spec : `astromask.presets.DeepCRModel` or `astromask.presets.CosmicConnModel`

    Returns
    -------
    x : `numpy.ndarray`
        float32 ``(batch, h, w, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.presets import model_spec
    >>> from astromask.training import network_input
    >>> tiles = np.full((2, 8, 8), 300.0)
    >>> spec = model_spec("deepcr/ACS-WFC-F606W-2-4")  # divides by 100
    >>> x = network_input(tiles, spec)
    >>> x.shape, x.dtype, float(x[0, 0, 0, 0])
    ((2, 8, 8, 1), dtype('float32'), 3.0)
    >>> spec = model_spec("cosmic-conn/ground_imaging")  # tile median removed
    >>> float(network_input(tiles, spec).max())
    0.0
    """
    x = np.asarray(tiles, dtype=np.float32)[..., None]
    if isinstance(spec, DeepCRModel):
        x = x / np.float32(spec.scale)
        if spec.standardize:  # the rule of inference, each tile standing for a frame
            x = np.stack([standardize(tile) for tile in x])
        return x.astype(np.float32)
    if spec.sky == "tile median":
        return subtract_tile_median(x)
    return x


def _parse_source(source, name):
    """A frame source: an array, or a FITS path with an optional HDU."""
    if isinstance(source, tuple) and len(source) == 2:
        path, hdu = source
        return Path(path), hdu
    if isinstance(source, (str, Path)):
        return parse_hdu_suffix(source)  # FILE[N] or FILE[EXTNAME], as on the command line
    if isinstance(source, bytes) or source is None:
        msg = f"{name}: expected 2-D arrays or FITS paths, got {source!r}"
        raise TypeError(msg)
    try:
        array = np.asarray(source)
    except (TypeError, ValueError):  # ragged sequences
        msg = f"{name}: expected 2-D arrays or FITS paths, got {source!r}"
        raise TypeError(msg) from None
    if array.ndim != 2:
        msg = f"{name}: expected 2-D arrays or FITS paths, got an array of shape {array.shape}"
        raise ValueError(msg)
    if name == "frames":  # images: real numbers only (truth and ignore may be bool)
        array = as_image(array, name=name, ndims=(2,))
    elif array.dtype.kind not in "biuf":
        msg = f"{name}: expected a bool mask, got dtype {array.dtype}"
        raise TypeError(msg)
    return array, None


def _image_hdu(hdul, hdu, path):
    if hdu is not None:
        return hdul[hdu]
    for item in hdul:
        if item.is_image and item.header.get("NAXIS", 0) == 2:
            return item
    msg = f"{path}: no 2-D image HDU; name one as 'file.fits[N]' or (path, N)"
    raise ValueError(msg)


class _Source:
    """One frame (or its truth or ignore mask), read one section at a time."""

    def __init__(self, source, name):
        self.source, self.hdu = _parse_source(source, name)
        if isinstance(self.source, Path):
            from astropy.io import fits

            if not self.source.is_file():
                msg = f"{name}: no such file {str(self.source)!r}"
                raise FileNotFoundError(msg)
            with fits.open(self.source, memmap=True) as hdul:
                hdu = _image_hdu(hdul, self.hdu, self.source)
                self.shape = tuple(int(n) for n in hdu.shape)
                if len(self.shape) != 2:
                    msg = f"{name}: {self.source} HDU {self.hdu} is not 2-D ({self.shape})"
                    raise ValueError(msg)
        else:
            self.shape = self.source.shape

    def read(self, y, x, size):
        box = (slice(y, y + size[0]), slice(x, x + size[1]))
        if not isinstance(self.source, Path):
            return np.array(self.source[box])
        from astropy.io import fits

        # Memory-mapped (or, compressed, decompressed tile by tile): only the
        # section is read.
        with fits.open(self.source, memmap=True) as hdul:
            return np.array(_image_hdu(hdul, self.hdu, self.source).section[box])


class TileDataset(keras.utils.PyDataset):
    """Training tiles streamed from frames, augmented and labelled.

    Each tile is cut at a random place of a random frame (frames drawn in
    proportion to their area), read from disk alone, then:

    1. converted to the network's unit (``factor``); non-finite pixels are
       set to the tile's median and left out of the loss;
    2. its sky is scaled as deepCR does (`augment_sky`, ``alpha`` uniform
       in ``sky_range``);
    3. cosmic-ray hits are added (`astromask.simulate.inject_cosmic_rays`)
       and become its truth, with the frame's own ``truth`` mask if given;
    4. rotated and flipped at random (`random_orientation`);
    5. prepared as the network expects (`network_input`), with per-pixel
       loss weights (`class_balance_weights`, or 1 with
       ``weighting=None``), zero on ``ignore`` pixels.

    Batch ``i`` of epoch ``e`` comes from a generator seeded with ``(seed,
    e, i)``, so a run is reproducible; with ``fixed=True`` every epoch sees
    the same tiles (a validation set).

    Parameters
    ----------
    frames : sequence
        Frames without their own labels, or with them in ``truth``: 2-D
        arrays, FITS paths (the first 2-D image HDU, or ``"file.fits[N]"``
        or ``(path, N)`` for another), in the unit of ``spec`` after
        ``factor``.  FITS files are memory-mapped, never loaded whole.
    spec : `astromask.presets.DeepCRModel` or `astromask.presets.CosmicConnModel`
        The network's input convention (`astromask.zoo.cosmic_ray_spec`).
    hits : list of (values, footprint), optional
        Cosmic-ray hits to inject, from
        `astromask.simulate.cosmic_rays_from_dark` or
        `astromask.simulate.cosmic_rays_from_frame`, in the frames' unit.
    truth, ignore : sequence, optional
        Per frame, the frame's own cosmic-ray pixels (counted as cosmic
        rays) and pixels to leave out of the loss (e.g. the frame's own hits
        when they are not in ``truth``, bad pixels), as for ``frames``; an
        item may be `None`.
    factor : sequence of float or float, optional
        Multiplies each frame's data (e.g. the gain, for a network trained
        on electrons).
    tile : int, optional
        Tile side, a multiple of 4.
    batch_size : int, optional
        Tiles per batch.
    steps : int, optional
        Batches per epoch.
    density : float, optional
        Injected hits per pixel.
    hit_scale : float, optional
        Multiplies the hits' values.
    sky_range : (float, float) or None, optional
        Range of the sky augmentation; `None` for none.
    rotate : bool, optional
        Random rotations and flips.
    weighting : {"balanced", None}, optional
        ``"balanced"``: `class_balance_weights` (MaxiMask); `None`: every
        pixel weighs 1 (deepCR).
    positive_fraction : float, optional
        Cosmic-ray pixel fraction for the balanced weights; by default
        measured on ``min(steps, 8)`` batches drawn at construction.
    fixed : bool, optional
        The same tiles every epoch (for validation).
    seed : int, optional
        Random seed.
    **kwargs
        Passed to `keras.utils.PyDataset` (``workers``,
        ``use_multiprocessing``, ``max_queue_size``).

    Examples
    --------
    Tiles of 32 pixels from one 64x64 frame, with two-pixel hits injected:

    >>> import numpy as np
    >>> from astromask import zoo
    >>> from astromask.training import TileDataset
    >>> frame = np.random.default_rng(0).normal(100, 10, (64, 64)).astype(np.float32)
    >>> hits = [(np.full((1, 2), 800, np.float32), np.ones((1, 2), bool))]
    >>> spec = CosmicConnModel("group", "electron", "tiny example", hidden=16)
    >>> data = TileDataset(
    ...     [frame], spec, hits=hits, tile=32, batch_size=2, steps=3, density=1 / 200
    ... )
    >>> len(data)
    3
    >>> x, truth, weights = data[0]
    >>> x.shape, truth.shape, weights.shape, x.dtype
    ((2, 32, 32, 1), (2, 32, 32, 1), (2, 32, 32), dtype('float32'))
    >>> bool(truth.any()), 0 < data.positive_fraction < 1
    (True, True)
    """

    def __init__(
        self,
        frames,
        spec,
        *,
        hits=None,
        truth=None,
        ignore=None,
        factor=1.0,
        tile=256,
        batch_size=8,
        steps=100,
        density=1 / 2000,
        hit_scale=1.0,
        sky_range=SKY_RANGE,
        rotate=True,
        weighting="balanced",
        positive_fraction=None,
        fixed=False,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(spec, (DeepCRModel, CosmicConnModel)):
            msg = f"spec: expected a DeepCRModel or CosmicConnModel, got {type(spec).__name__}"
            raise TypeError(msg)
        if isinstance(frames, (str, Path, np.ndarray)):
            frames = [frames]
        if isinstance(frames, bytes) or not hasattr(frames, "__len__"):
            msg = f"frames: expected a sequence of 2-D arrays or FITS paths, got {frames!r}"
            raise TypeError(msg)
        # The scalar options, checked before any frame is opened.
        tile = whole_number(tile, "tile", minimum=8, expected="a multiple of 4, at least 8")
        batch_size = whole_number(batch_size, "batch_size", minimum=1)
        steps = whole_number(steps, "steps", minimum=1)
        density = number(density, "density", minimum=0, strict=True)
        hit_scale = number(hit_scale, "hit_scale", minimum=0, strict=True)
        seed = whole_number(seed, "seed")
        if positive_fraction is not None:
            positive_fraction = probability(
                positive_fraction, "positive_fraction", open_interval=True
            )
        if sky_range is not None:
            if isinstance(sky_range, (str, bytes)) or np.shape(sky_range) != (2,):
                msg = f"sky_range: expected (low, high) or None, got {sky_range!r}"
                raise ValueError(msg)
            low, high = (number(v, "sky_range") for v in sky_range)
            if not low <= high:
                msg = f"sky_range: expected (low, high) with low <= high, got {sky_range!r}"
                raise ValueError(msg)
            sky_range = (low, high)
        if len(frames) == 0:
            msg = "frames: give at least one frame"
            raise ValueError(msg)
        self.frames = [_Source(f, "frames") for f in frames]
        self.truth = self._aligned(truth, "truth")
        self.ignore = self._aligned(ignore, "ignore")
        given = factor
        factor = [factor] * len(self.frames) if np.ndim(factor) == 0 else list(factor)
        if len(factor) != len(self.frames):
            count = len(self.frames)
            msg = f"factor: expected one number or one per frame ({count}), got {given!r}"
            raise ValueError(msg)
        self.factor = [number(f, "factor", minimum=0, strict=True) for f in factor]
        if int(tile) % 4 or int(tile) < 8:
            msg = f"tile: must be a multiple of 4 and at least 8, got {tile}"
            raise ValueError(msg)
        self.tile = int(tile)
        small = [i for i, f in enumerate(self.frames) if min(f.shape) < self.tile]
        if small:
            msg = (
                f"frames: frame(s) {small} are smaller than a {self.tile}-pixel tile; "
                "pass a smaller tile"
            )
            raise ValueError(msg)
        if hits is not None and len(hits) == 0:
            msg = "hits: the hit library is empty; pass None to inject nothing"
            raise ValueError(msg)
        if hits is None and all(t is None for t in self.truth):
            msg = "hits, truth: give hits to inject or the frames' truth masks (or both)"
            raise ValueError(msg)
        if weighting not in ("balanced", None):
            msg = f"weighting: expected 'balanced' or None, got {weighting!r}"
            raise ValueError(msg)
        self.spec = spec
        self.hits = hits
        self.batch_size = int(batch_size)
        self.steps = int(steps)
        self.density = float(density)
        self.hit_scale = float(hit_scale)
        self.sky_range = sky_range
        self.rotate = bool(rotate)
        self.weighting = weighting
        self.fixed = bool(fixed)
        self.seed = int(seed)
        self.epoch = 0
        areas = np.array([f.shape[0] * f.shape[1] for f in self.frames], dtype=np.float64)
        self._p = areas / areas.sum()
        if weighting == "balanced" and positive_fraction is None:
            positive_fraction = self.measure_positive_fraction()
        self.positive_fraction = positive_fraction

    def _aligned(self, items, name):
        if items is None:
            return [None] * len(self.frames)
        if len(items) != len(self.frames):
            msg = f"{name}: {len(items)} items for {len(self.frames)} frames"
            raise ValueError(msg)
        sources = [None if item is None else _Source(item, name) for item in items]
        for k, (src, frame) in enumerate(zip(sources, self.frames)):
            if src is not None and src.shape != frame.shape:
                msg = f"{name}: item {k} has shape {src.shape}, its frame {frame.shape}"
                raise ValueError(msg)
        return sources

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        if not self.fixed:
            self.epoch += 1

    def measure_positive_fraction(self, batches=8):
        """Fraction of cosmic-ray pixels among weighted pixels, over a few batches."""
        positive = total = 0
        for index in range(min(self.steps, batches)):
            _, truth, keep = self._tiles(np.random.default_rng([self.seed, 1 << 20, index]))
            positive += int((truth & keep).sum())
            total += int(keep.sum())
        if positive == 0:
            msg = "no cosmic-ray pixel in the sample tiles; raise density or check truth"
            raise ValueError(msg)
        return positive / total

    def _tile(self, rng):
        k = int(rng.choice(len(self.frames), p=self._p))
        frame = self.frames[k]
        y = int(rng.integers(frame.shape[0] - self.tile + 1))
        x = int(rng.integers(frame.shape[1] - self.tile + 1))
        size = (self.tile, self.tile)
        image = frame.read(y, x, size).astype(np.float32) * np.float32(self.factor[k])
        truth = np.zeros(size, bool)
        if self.truth[k] is not None:
            truth |= self.truth[k].read(y, x, size).astype(bool)
        keep = np.isfinite(image)
        if self.ignore[k] is not None:
            keep &= ~self.ignore[k].read(y, x, size).astype(bool)
        if not keep.all():
            fill = np.median(image[np.isfinite(image)]) if np.isfinite(image).any() else 0.0
            image = np.where(np.isfinite(image), image, np.float32(fill))
        if self.sky_range is not None:
            image = augment_sky(image, rng.uniform(*self.sky_range))
        if self.hits is not None:
            from astromask.simulate import inject_cosmic_rays

            image, injected = inject_cosmic_rays(
                image, self.hits, density=self.density, scale=self.hit_scale, seed=rng
            )
            truth |= injected
        if self.rotate:
            image, truth, keep = random_orientation((image, truth, keep), rng)
        return image, truth, keep

    def _tiles(self, rng):
        tiles = [self._tile(rng) for _ in range(self.batch_size)]
        return (np.stack([t[i] for t in tiles]) for i in range(3))

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(index)
        epoch = 0 if self.fixed else self.epoch
        images, truth, keep = self._tiles(np.random.default_rng([self.seed, epoch, index]))
        x = network_input(images, self.spec)
        if self.weighting == "balanced":
            w = class_balance_weights(truth, self.positive_fraction, ignore=~keep)
        else:
            w = keep.astype(np.float32)
        return x, truth[..., None].astype(np.float32), w

    def arrays(self):
        """All batches stacked: ``(x, truth, weights)``, for evaluation."""
        parts = [self[i] for i in range(len(self))]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


class _HeldOutMetrics(keras.callbacks.Callback):
    """TPR at fixed FPR on the held-out tiles, added to each epoch's logs."""

    def __init__(self, x, truth, keep, fpr):
        super().__init__()
        self.x, self.truth, self.keep, self.fpr = x, truth, keep, fpr

    def on_epoch_end(self, epoch, logs=None):
        from astromask import metrics

        scores = np.asarray(self.model.predict(self.x, batch_size=8, verbose=0))[..., 0]
        tpr, _ = metrics.tpr_at_fpr(scores, self.truth, self.fpr, exclude=~self.keep)
        if logs is not None:
            for f, t in zip(self.fpr, np.atleast_1d(tpr)):
                logs[f"val_tpr@fpr={f:g}"] = float(t)


class _Plateau(keras.callbacks.Callback):
    """deepCR's schedule: learning rate times 0.1 when the monitored loss has
    not improved by ``min_delta`` (relative) for ``patience`` epochs; stop
    after ``decays`` such decays without improvement."""

    def __init__(self, monitor, patience, min_delta, decays, factor=0.1):
        super().__init__()
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.decays, self.factor = decays, factor
        self.best, self.wait, self.done = math.inf, 0, 0
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        rate = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
        if value < self.best * (1 - self.min_delta):
            self.best, self.wait, self.done = value, 0, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            if self.done >= self.decays:
                self.model.stop_training = self.stopped = True
                return
            self.done += 1
            rate = self.model.optimizer.learning_rate
            rate.assign(keras.ops.convert_to_numpy(rate) * self.factor)


class _Checkpoint(keras.callbacks.Callback):
    """Save the inference form whenever the monitored loss improves."""

    def __init__(self, monitor, save):
        super().__init__()
        self.monitor, self.save, self.best = monitor, save, math.inf
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        value = logs.get(self.monitor, math.inf)
        if value < self.best:
            self.best = value
            self.save(self.model, self.history, epoch + 1)


def _bn_of(name, names):
    """The batch norm a convolution feeds, in the training form of a network."""
    if re.fullmatch(r".+_conv\d", name):
        candidates = [name.replace("_conv", "_bn"), name.rsplit("_", 1)[0] + "_norm"]
    elif name.endswith(("_att_gate", "_att_skip")):
        candidates = [name.rsplit("_", 1)[0] + "_norm"]
    elif name.endswith("_att_psi"):
        candidates = [name + "_norm"]
    else:
        return None
    return next((c for c in candidates if c in names), None)


def fold_batchnorm(trained, inference):
    """Copy a training-form network into its inference form, folding batch norm.

    With frozen statistics a batch norm is ``gamma (x - mean) / sqrt(var +
    eps) + beta``, an affine map per channel that merges into the kernel and
    bias of the convolution before it.

    Parameters
    ----------
    trained : `keras.Model`
        The network with its batch normalisation layers
        (`astromask.zoo.build_network` with ``training=True``).
    inference : `keras.Model`
        The same network without them (``training=False``); its weights are
        set in place.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from astromask import zoo
    >>> from astromask.training import fold_batchnorm
    >>> spec = DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
    >>> fmt = zoo.data_format(keras.backend.backend())
    >>> trained = zoo.build_network(spec, (16, 16), data_format=fmt, training=True)
    >>> inference = zoo.build_network(spec, (16, 16), data_format=fmt)
    >>> rng = np.random.default_rng(0)
    >>> for layer in trained.layers:  # statistics as if trained
    ...     if isinstance(layer, keras.layers.BatchNormalization):
    ...         n = layer.get_weights()[0].size
    ...         layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.1, n),
    ...                            rng.normal(0, 0.1, n), rng.uniform(0.5, 2, n)])
    >>> fold_batchnorm(trained, inference)
    >>> x = rng.normal(size=(1, 16, 16, 1)).astype(np.float32)
    >>> a = keras.ops.convert_to_numpy(trained(x, training=False))
    >>> b = keras.ops.convert_to_numpy(inference(x))
    >>> bool(np.allclose(a, b, atol=1e-5))
    True
    """
    names = {layer.name for layer in trained.layers}
    for layer in inference.layers:
        if not layer.weights:
            continue
        weights = [np.asarray(w) for w in trained.get_layer(layer.name).get_weights()]
        bn_name = _bn_of(layer.name, names)
        if bn_name is not None:
            bn = trained.get_layer(bn_name)
            gamma, beta, mean, var = (np.asarray(w) for w in bn.get_weights())
            kernel, bias = weights
            weights = list(
                fold_batchnorm_arrays(kernel, bias, gamma, beta, mean, var, bn.epsilon, out_axis=-1)
            )
        layer.set_weights(weights)


def _copy_weights(source, target):
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def _uses_batchnorm(spec):
    return isinstance(spec, DeepCRModel) or spec.norm == "batch"


def _resolve_start(start):
    """``(spec, base name or None, pretrained weights source or None)``."""
    if isinstance(start, (DeepCRModel, CosmicConnModel)):
        if start.kind != "mask":
            msg = "start: only cosmic-ray mask networks can be trained here"
            raise ValueError(msg)
        return start, None, None
    spec = zoo.cosmic_ray_spec(start)
    base = str(start)
    return spec, base, start


def _check_rates(fpr):
    """``fpr`` of `train`: a tuple of rates in (0, 1)."""
    values = [fpr] if np.ndim(fpr) == 0 and not isinstance(fpr, (str, bytes)) else fpr
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        msg = f"fpr: expected a sequence of false positive rates in (0, 1), got {fpr!r}"
        raise ValueError(msg)
    return tuple(probability(v, "fpr", open_interval=True) for v in values)


def train(
    data,
    validation=None,
    *,
    start,
    output,
    epochs=10,
    bn_epochs=None,
    learning_rate=None,
    fpr=(1e-4, 1e-3),
    patience=4,
    min_delta=1e-3,
    decays=2,
    description=None,
    overwrite=False,
    seed=None,
    device=None,
    verbose="auto",
):
    """Train or fine-tune a cosmic-ray network and save it for ``model=``.

    The loss is binary cross-entropy weighted per pixel by the dataset
    (`TileDataset`: MaxiMask's smoothed class-balance weights by default),
    minimised with Adam.  A network trained from a bare architecture with
    batch normalisation follows deepCR's two-phase schedule: ``bn_epochs``
    epochs with batch statistics (running averages with momentum 0.005, as
    deepCR), then the statistics are frozen, which makes each batch norm a
    fixed affine map; astromask folds it into the convolution before it and
    trains on (the same function, with one parameter set fewer: deepCR keeps
    training the norms' scale and shift, which the folded kernels absorb).
    Pretrained networks start in the second phase.  The learning rate drops
    tenfold when the monitored loss has not improved by ``min_delta``
    (relative) for ``patience`` epochs, and training stops after ``decays``
    drops without improvement (deepCR's rule).

    After every epoch that improves the monitored loss (``val_loss`` with a
    validation set, else ``loss``), the network is written to ``output`` in
    Keras' format with astromask's metadata (`astromask.zoo.save_trained`):
    its spec (architecture and input convention, inherited from ``start``),
    the options and the per-epoch history, including TPR at each ``fpr``
    on the validation tiles.  ``output`` then works as ``model=`` in
    `astromask.probabilities`, `astromask.cosmicray_deepcr` and
    ``astromask cosmicray --detector``.

    Parameters
    ----------
    data : `TileDataset`
        Training tiles.
    validation : `TileDataset`, optional
        Held-out tiles (``fixed=True``), for the loss schedule and the
        per-epoch TPR at fixed FPR.
    start : str, path-like, `astromask.presets.DeepCRModel` or `astromask.presets.CosmicConnModel`
        A pretrained network (a name of `astromask.presets.cosmic_ray_models`,
        e.g. ``"decam-attention/Att_deepCR"``), a ``.keras`` file written
        by `train`, or a spec, for random initial weights.
    output : str or path-like
        The ``.keras`` file to write.
    epochs : int, optional
        Epochs in all.
    bn_epochs : int, optional
        Epochs with batch statistics (default: deepCR's 20, at most
        ``epochs // 2``), for a batch-norm network started from a spec.
    learning_rate : float, optional
        Adam's initial rate; default deepCR's 0.005 from scratch, 0.0005
        for fine-tuning.
    fpr : sequence of float, optional
        False positive rates at which the validation TPR is logged.
    patience, min_delta, decays : optional
        The learning-rate schedule above.
    description : str, optional
        Recorded as the model's description.
    overwrite : bool, optional
        Replace an existing ``output``.
    seed : int, optional
        Seeds Keras's initial weights.
    device : str, optional
        Keras device name, e.g. ``"gpu:0"``.
    verbose : "auto", 0, 1 or 2, optional
        Keras's progress display.

    Returns
    -------
    history : list of dict
        One entry per epoch: ``epoch``, ``loss``, ``val_loss``,
        ``val_tpr@fpr=...``, ``learning_rate``.

    Examples
    --------
    A tiny network trained for two epochs on frames with injected hits (a
    real run starts from a pretrained model and streams many frames):

    >>> import numpy as np
    >>> import astromask
    >>> from astromask import zoo
    >>> from astromask.training import TileDataset
    >>> rng = np.random.default_rng(0)
    >>> frames = [rng.normal(100, 10, (128, 128)).astype(np.float32) for _ in range(2)]
    >>> hits = [(np.full((1, 2), 800, np.float32), np.ones((1, 2), bool))]
    >>> spec = CosmicConnModel("group", "electron", "tiny example", hidden=16)
    >>> data = TileDataset(frames, spec, hits=hits, tile=64, batch_size=2, steps=2)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     output = f"{folder}/tiny.keras"
    ...     history = astromask.train(data, start=spec, output=output, epochs=2, verbose=0)
    ...     model_file_written = zoo.is_trained_model(output)
    >>> [entry["epoch"] for entry in history], model_file_written
    ([1, 2], True)
    """
    import datetime

    output = path_argument(output, "output", folder_exists=True)
    output = zoo.check_trained_output(output, overwrite=overwrite, name="output")
    epochs = whole_number(epochs, "epochs", minimum=1)
    if bn_epochs is not None:
        bn_epochs = whole_number(bn_epochs, "bn_epochs")
    learning_rate = number(learning_rate, "learning_rate", minimum=0, strict=True, allow_none=True)
    fpr = _check_rates(fpr)
    patience = whole_number(patience, "patience", minimum=1)
    min_delta = number(min_delta, "min_delta", minimum=0)
    decays = whole_number(decays, "decays")
    if description is not None and not isinstance(description, str):
        msg = f"description: expected a str or None, got {description!r}"
        raise TypeError(msg)
    if seed is not None:
        seed = whole_number(seed, "seed")
    check_device(device)
    if not (isinstance(verbose, str) and verbose == "auto") and verbose not in (0, 1, 2):
        msg = f"verbose: expected 'auto', 0, 1 or 2, got {verbose!r}"
        raise ValueError(msg)
    if not isinstance(data, TileDataset):
        msg = f"data: expected a TileDataset, got {type(data).__name__}"
        raise TypeError(msg)
    if validation is not None and not isinstance(validation, TileDataset):
        msg = f"validation: expected a TileDataset, got {type(validation).__name__}"
        raise TypeError(msg)
    spec, base, weights_from = _resolve_start(start)
    if data.spec != spec:
        msg = "data: the dataset was made for another spec than start's; build it with that spec"
        raise ValueError(msg)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    epochs = int(epochs)
    scratch = weights_from is None
    if bn_epochs is None:
        bn_epochs = min(20, epochs // 2)
    bn_epochs = int(bn_epochs) if scratch and _uses_batchnorm(spec) else 0
    if learning_rate is None:
        learning_rate = 0.005 if scratch else 5e-4
    tile = (data.tile, data.tile)
    fmt = zoo.data_format(keras.backend.backend())
    net = zoo.build_network(spec, tile, data_format=fmt, name="trained")
    if not scratch:
        _copy_weights(zoo.get_model(weights_from, tile), net)

    balanced = data.weighting == "balanced"
    trained_spec = dataclasses.replace(
        spec,
        description=description
        or (f"{spec.description}; fine-tuned" if base else "trained with astromask"),
        balanced_prior=float(data.positive_fraction) if balanced else 0.0,
    )
    record = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "epochs": epochs,
        "bn_epochs": bn_epochs,
        "learning_rate": float(learning_rate),
        "tile": data.tile,
        "batch_size": data.batch_size,
        "steps": data.steps,
        "weighting": data.weighting,
        "positive_fraction": data.positive_fraction,
        "sky_range": list(data.sky_range) if data.sky_range is not None else None,
        "density": data.density,
        "frames": len(data.frames),
        "hits": None if data.hits is None else len(data.hits),
        "seed": seed,
    }
    monitor = "val_loss" if validation is not None else "loss"

    def save(model, history, epoch):
        if model is not net:  # the training form: fold its batch norms first
            fold_batchnorm(model, net)
        if not all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in net.weights):
            msg = (
                f"train: the weights are no longer finite after epoch {epoch} (the "
                f"training diverged); {str(output)!r} is not written: lower learning_rate"
            )
            raise ValueError(msg)
        zoo.save_trained(
            net,
            output,
            trained_spec,
            base=base,
            training={**record, "best_epoch": epoch, "history": history},
            overwrite=True,
        )

    callbacks = []
    if validation is not None:
        x, truth, w = validation.arrays()
        callbacks.append(_HeldOutMetrics(x, truth[..., 0] > 0.5, w > 0, tuple(fpr)))
    plateau = _Plateau(monitor, patience, min_delta, decays)
    checkpoint = _Checkpoint(monitor, save)
    callbacks += [plateau, checkpoint]

    def fit(model, first, last):
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy()
        )
        model.fit(
            data,
            validation_data=validation,
            initial_epoch=first,
            epochs=last,
            callbacks=callbacks,
            verbose=verbose,
        )
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    with device_scope(device):
        if bn_epochs:
            phase1 = zoo.build_network(spec, tile, data_format=fmt, training=True, name="trained")
            learning_rate = fit(phase1, 0, bn_epochs)
            fold_batchnorm(phase1, net)  # phase 2 trains the folded network
        if bn_epochs < epochs and not plateau.stopped:
            fit(net, bn_epochs, epochs)
    return checkpoint.history
