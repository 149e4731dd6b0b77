"""Cosmic-ray probabilities from the deepCR and Cosmic-CoNN networks (arrays only).

Each network family takes its input its own way: deepCR's scaled (and, for
``WFC3-UVIS``, standardised) frame, Cosmic-CoNN's frame with each tile's
median removed, the DECam networks' frame with its sky.  This module prepares
those inputs from an image in the network's unit, fills bad pixels first
(`astromask.inpainting`'s masked median), and runs the network through the
tile runner (`astromask.inference.predict_unet`).  No astropy here: the
conversion from a `~astropy.nddata.CCDData` to the network's unit is in
`astromask.ccdproc_compat` and `astromask.core`.
"""

from pathlib import Path

import numpy as np

from astromask import zoo
from astromask.inference import check_batch_size, predict_unet
from astromask.inpainting import inpaint_array
from astromask.presets import MODELS, CosmicConnModel, DeepCRModel, EnsembleModel
from astromask.priors import balanced_probability
from astromask.tiling import pad_to_multiple

__all__ = [
    "COSMIC_CONN_FIELD",
    "cosmic_conn_probabilities",
    "cosmic_ray_probabilities",
    "deepcr_probabilities",
    "ensemble_probabilities",
    "standardize",
    "subtract_tile_median",
]


def _spec(model, family):
    """The spec of a registered network of ``family``, or of a trained model file."""
    if zoo.is_trained_model(model):
        return zoo.cosmic_ray_spec(model)
    entry = MODELS.get(model) if isinstance(model, str) else None
    return entry.spec if entry is not None and entry.family == family else None


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
        A deepCR mask model of the model table (`astromask.presets`).
    tiling, batch_size, device, progress, precision
        See `predict_unet`.

    Returns
    -------
    probabilities : `numpy.ndarray`
        float32 ``(ny, nx)``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.cosmicrays import deepcr_probabilities
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((64, 64), seed=1)
    >>> bad = np.zeros((64, 64), bool)
    >>> bad[0, :8] = True  # left out, filled from their neighbours first
    >>> p = deepcr_probabilities(ccd.data, bad)  # doctest: +REMOTE_DATA
    >>> p.shape, p.dtype, bool(((p >= 0) & (p <= 1)).all())  # doctest: +REMOTE_DATA
    ((64, 64), dtype('float32'), True)
    """
    spec = _spec(model, "deepcr")
    if not isinstance(spec, DeepCRModel) or spec.kind != "mask":
        names = [n for n, p in MODELS.items() if p.family == "deepcr" and p.task == "mask"]
        msg = f"model: {model!r} is not a deepCR mask model; choose among {', '.join(names)}"
        raise ValueError(msg)
    img, good = _fill_bad(image.astype(np.float32) / np.float32(spec.scale), bad)
    if spec.standardize:
        img = standardize(img, good)
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


def standardize(image, good=None):
    """Subtract the mean of an image and divide by its standard deviation (deepCR's ``WFC3-UVIS``).

    The statistics are those of the ``good`` pixels (all by default); an
    image without good pixels, or of zero spread, is only shifted or left as
    it is.  `deepcr_probabilities` applies it to the whole frame, and
    training (`astromask.training.network_input`) to each tile, which there
    stands for a frame with its own, augmented, sky.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.cosmicrays import standardize
    >>> standardize(np.array([[1.0, 3.0]], np.float32)).tolist()
    [[-1.0, 1.0]]
    """
    img = np.array(image, dtype=np.float32)
    if good is None:
        good = np.ones(img.shape, bool)
    if not good.any():
        return img
    mean = img.mean() if good.all() else img[good].mean()
    std = img.std() if good.all() else img[good].std()
    img -= mean
    if std > 0:
        img /= std
    return img


def _fill_bad(img, bad):
    """``img`` with bad and non-finite pixels replaced by their 5x5 masked median."""
    good = np.isfinite(img)
    if bad is not None:
        good &= ~bad
    if not good.any():  # nothing to fill from: the network sees a blank frame
        img = np.zeros_like(img)
    elif not good.all():
        img = inpaint_array(img, ~good, method="medmask").astype(np.float32)
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
    the sky, as they were trained (`astromask.presets.CosmicConnModel.sky`).
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
        2-D image in the model's unit (`astromask.presets.CosmicConnModel.unit`:
        electrons for Cosmic-CoNN's, ADU for the DECam networks).
    bad : `numpy.ndarray`, optional
        bool mask of pixels to ignore.
    model : str, optional
        A Cosmic-CoNN-type model of the model table (`astromask.presets`).
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
    spec = _spec(model, "cosmic-conn")
    if not isinstance(spec, CosmicConnModel):
        names = [n for n, p in MODELS.items() if p.family == "cosmic-conn"]
        msg = f"model: {model!r} is not a Cosmic-CoNN-type model; choose among " + ", ".join(names)
        raise ValueError(msg)
    img, _ = _fill_bad(image.astype(np.float32), bad)
    padded, pad = pad_to_multiple(img[None], 4)
    out = predict_unet(
        padded,
        model=model,
        tiling=tiling,
        batch_size=check_batch_size(batch_size, 1),
        device=device,
        progress=progress,
        prepare=subtract_tile_median if spec.sky == "tile median" else None,
        blend=COSMIC_CONN_FIELD,
        precision=precision,
    )
    return out[pad[0] :, pad[1] :]


def _logit(p):
    """Logits of float32 probabilities, bounded where float32 reaches 0 or 1."""
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def ensemble_probabilities(image, bad=None, *, model="astromask/ground", **kwargs):
    """Cosmic-ray probability of each pixel from a combination of networks.

    The frame is mirrored by `EnsembleModel.pad` pixels on every side, so
    that border pixels see surroundings like interior ones; each member
    network of the ensemble (`astromask.presets.EnsembleModel`) runs on it
    with its own input convention and default tiling
    (`cosmic_ray_probabilities`), and the result is the probability of the
    members' weighted mean logit.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image in electrons.
    bad : `numpy.ndarray`, optional
        bool mask of pixels to ignore.
    model : str, optional
        An ensemble of the model table (`astromask.presets.ensembles`).
    **kwargs
        ``batch_size``, ``device``, ``progress``, ``precision``: passed to
        every member (see `predict_unet`).

    Returns
    -------
    probabilities : `numpy.ndarray`
        float32 ``(ny, nx)``.

    Examples
    --------
    >>> from astromask.cosmicrays import ensemble_probabilities
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((64, 64), seed=1)
    >>> p = ensemble_probabilities(ccd.data * 1.5)  # doctest: +REMOTE_DATA
    >>> p.shape, p.dtype  # doctest: +REMOTE_DATA
    ((64, 64), dtype('float32'))
    """
    spec = MODELS[model].spec if model in MODELS else None
    if not isinstance(spec, EnsembleModel):
        names = [n for n, p in MODELS.items() if p.family == "ensemble"]
        msg = f"model: {model!r} is not an ensemble; choose among {', '.join(names)}"
        raise ValueError(msg)
    image = np.asarray(image, dtype=np.float32)
    pad = min(spec.pad, *(n - 1 for n in image.shape))
    padded = np.pad(image, pad, mode="reflect") if pad > 0 else image
    padded_bad = None
    if bad is not None:
        padded_bad = np.pad(bad, pad, mode="reflect") if pad > 0 else bad
    weights = np.ones(len(spec.members)) if spec.weights is None else np.asarray(spec.weights)
    weights = weights / weights.sum()
    total = 0.0
    for member, weight in zip(spec.members, weights):
        total = total + weight * _logit(
            cosmic_ray_probabilities(padded, padded_bad, model=member, **kwargs)
        )
    out = (1 / (1 + np.exp(-total))).astype(np.float32)
    return out[pad : pad + image.shape[0], pad : pad + image.shape[1]] if pad > 0 else out


def cosmic_ray_probabilities(image, bad=None, *, model, tiling=None, **kwargs):
    """Cosmic-ray probabilities from any network of `astromask.presets.cosmic_ray_models`.

    Dispatches to `deepcr_probabilities`, `cosmic_conn_probabilities` or
    `ensemble_probabilities`, with
    the model family's default tiling when ``tiling`` is `None`; other
    keyword arguments are passed on.  ``model`` may also be the path of a
    model written by `astromask.train`.
    """
    spec = zoo.cosmic_ray_spec(model)
    if isinstance(spec, EnsembleModel):
        if tiling is not None:
            msg = "tiling: an ensemble runs each member with its own tiling; leave tiling=None"
            raise ValueError(msg)
        return ensemble_probabilities(image, bad, model=model, **kwargs)
    if zoo.is_trained_model(model):
        model = str(Path(model).resolve())
    if isinstance(spec, CosmicConnModel):
        tiling = "cosmic-conn" if tiling is None else tiling
        out = cosmic_conn_probabilities(image, bad, model=model, tiling=tiling, **kwargs)
    else:
        tiling = "deepcr" if tiling is None else tiling
        out = deepcr_probabilities(image, bad, model=model, tiling=tiling, **kwargs)
    if spec.balanced_prior:  # trained with class-balanced weights
        out = balanced_probability(out, spec.balanced_prior)
    return out
