"""Image normalisation for MaxiMask and MaxiTrack (numpy and scipy only).

The networks were trained on images from which a SExtractor-like background
was subtracted and which were divided by the background noise.  This module
reproduces upstream's estimate (MaxiMask 1.4.1, ``utils.background_est``)
number for number on images of at least 400 px, and extends it to smaller
images and to masked pixels:

1. NaN becomes 0 and values are clipped to [-500, 80000];
2. the image is cut into 200-px meshes (centred, the remainder split between
   both sides); in each mesh the median and standard deviation are
   sigma-clipped at 3 sigma until stable; the background is the clipped mean,
   or ``2.5 median - 1.5 mean`` when clipping changed sigma by more than 20 %;
3. outlying meshes are replaced by the mean of their neighbours, the grid is
   edge-padded by one mesh and median-filtered (3x3), and a bicubic spline
   interpolates background and sigma maps at every pixel.  Upstream's median
   filter pads with zeros, so the four corners of the padded grid drop
   towards 0 and the maps dip within about 100 px of the image corners.

Two estimates share these steps (``background=`` of `normalize`):

``"maximask"``
    Upstream's, zero corners included: the parity mode
    (``tiling="maximask"`` in `astromask.flag`), bit for bit.
``"astromask"``
    The default of every other mode.  The mesh grid is median-filtered with
    its edge values repeated instead of zeros, so the maps do not dip at the
    corners (on pure sky noise upstream's dip made 17.5 % of a 512x512
    frame BBG, 27 % with a 2500 ADU bias pedestal, whose level the dip
    scales with), and constant rows and columns (blank, zero-filled)
    take no part in the statistics.

Images with fewer than 200 px along an axis use one mesh spanning that axis,
and the spline degree drops to what the number of meshes allows; images with
a single mesh along an axis (under 400 px) are median-filtered without the
zero corners.  Masked
pixels take no part in the statistics, and neither do NaN and infinite ones
(upstream counts NaN as 0 there; frames without them are unaffected).  A
sigma map that is not positive (a constant mesh, or spline overshoot) is
replaced by the median positive mesh sigma there, so the output is always
finite.
"""

import math

import numpy as np
from scipy import interpolate, ndimage

__all__ = ["BACKGROUNDS", "background_maps", "check_background", "normalize"]

CLIP_LOW, CLIP_HIGH = -500.0, 80000.0
MESH_SIZE = 200


def _clipped_stats(values, k=3.0):
    """Sigma-clipped background and sigma of one mesh (upstream's loop)."""
    keep = np.ones(values.shape, dtype=bool)
    median = np.median(values)
    init_std = np.std(values)
    std = init_std
    while True:
        new_keep = keep & (values >= median - k * std) & (values <= median + k * std)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
        kept = values[keep]
        median = np.median(kept)
        std = np.std(kept)
    kept = values[keep]
    mean = np.mean(kept)
    if 0.8 * init_std < std < 1.2 * init_std:
        background = mean
    else:
        background = 2.5 * median - 1.5 * mean
    return background, std


def _mesh_grid(image, mask, mesh_h, mesh_w):
    """Background and sigma of each mesh; NaN where a mesh has no valid pixel."""
    height, width = image.shape
    n_y, n_x = height // mesh_h, width // mesh_w
    y0, x0 = (height % mesh_h) // 2, (width % mesh_w) // 2
    back = np.zeros((n_y, n_x))
    sigma = np.zeros((n_y, n_x))
    for j in range(n_y):
        for i in range(n_x):
            rows = slice(y0 + j * mesh_h, y0 + (j + 1) * mesh_h)
            cols = slice(x0 + i * mesh_w, x0 + (i + 1) * mesh_w)
            mesh = image[rows, cols]
            if mask is not None:
                mesh = mesh[~mask[rows, cols]]
                if mesh.size == 0:
                    back[j, i] = sigma[j, i] = np.nan
                    continue
            if not mesh.any():
                back[j, i], sigma[j, i] = 0.0, 1.0
                continue
            back[j, i], sigma[j, i] = _clipped_stats(mesh.ravel())
    for grid in (back, sigma):
        empty = np.isnan(grid)
        if empty.all():
            grid[...] = 0.0 if grid is back else 1.0
        elif empty.any():
            grid[empty] = np.median(grid[~empty])
    return back, sigma


def _clean_grid(grid):
    """Replace 3-sigma outlier meshes by the mean of their valid neighbours.

    This follows upstream exactly, including its in-place, sequential update
    order, so that results stay identical.
    """
    keep = np.ones(grid.shape, dtype=bool)
    for iteration in range(6):  # at most 5 rounds of rejection, as upstream
        median = np.median(grid[keep])
        std = np.std(grid[keep])
        outliers = keep & ((grid > median + 3 * std) | (grid < median - 3 * std))
        if not outliers.any() or iteration == 5:
            break
        keep &= ~outliers
    bad = ~keep
    if bad.any():
        height, width = grid.shape
        grid[bad] = np.nan
        bad_y, bad_x = np.nonzero(bad)
        while np.isnan(grid).any():
            for y, x in zip(bad_y, bad_x):
                window = grid[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
                valid = ~np.isnan(window)
                if valid.any():
                    grid[y, x] = window[valid].sum() / valid.sum()
    return grid


_ROWS_PER_BAND = 256
"""Rows of the background and sigma maps evaluated at a time: a frame-sized
map is never made in `normalize`, and never in float64."""


BACKGROUNDS = ("astromask", "maximask")
"""tuple of str: the background estimates of `normalize` (see the module's docstring)."""


def check_background(background):
    """Return ``background`` if it is one of `BACKGROUNDS`, else raise a `ValueError` naming it.

    Examples
    --------
    >>> from astromask.preprocess import check_background
    >>> check_background("maximask")
    'maximask'
    >>> check_background("sextractor")
    Traceback (most recent call last):
    ...
    ValueError: background: expected one of astromask, maximask, got 'sextractor'
    """
    if not isinstance(background, str) or background not in BACKGROUNDS:
        msg = f"background: expected one of {', '.join(BACKGROUNDS)}, got {background!r}"
        raise ValueError(msg)
    return background


def _spline(grid, mesh_h, mesh_w, height, width, background="maximask"):
    """Median-filter a mesh grid and fit the spline that interpolates it."""
    grid = _clean_grid(grid)
    padded = np.pad(grid, 1, mode="edge")
    n_y, n_x = grid.shape
    if n_y >= 2 and n_x >= 2 and background == "maximask":
        # Upstream's filter, zero-padded: the padded grid's corners drop
        # towards 0.  Kept for parity (the network was used that way).
        # Imported here: scipy.signal takes 0.4 s to import, and only the
        # parity mode needs it.
        from scipy import signal

        padded = signal.medfilt(padded, 3)
    else:
        # astromask's estimate, and images under 400 px: no zero corners.
        padded = ndimage.median_filter(padded, size=3, mode="nearest")
    y = (height % mesh_h) // 2 + mesh_h / 2 + mesh_h * np.arange(-1, n_y + 1)
    x = (width % mesh_w) // 2 + mesh_w / 2 + mesh_w * np.arange(-1, n_x + 1)
    return interpolate.RectBivariateSpline(
        y, x, padded, kx=min(3, len(y) - 1), ky=min(3, len(x) - 1)
    )


class _Background:
    """Background and sigma splines of an image, evaluated a band of rows at a time.

    Each pixel's value does not depend on the band it is evaluated in, so
    the maps equal the whole-frame evaluation bit for bit.
    """

    def __init__(self, image, mask, mesh_size, background="maximask"):
        self.height, self.width = image.shape
        mesh_h, mesh_w = min(mesh_size, self.height), min(mesh_size, self.width)
        back_grid, sigma_grid = _mesh_grid(image, mask, mesh_h, mesh_w)
        positive = sigma_grid > 0
        floor = np.median(sigma_grid[positive]) if positive.any() else 1.0
        self.floor = np.float32(floor if math.isfinite(floor) else 1.0)
        shape = (mesh_h, mesh_w, self.height, self.width)
        self.back = _spline(back_grid, *shape, background)
        self.sigma = _spline(sigma_grid, *shape, background)
        self.columns = np.arange(self.width)

    def bands(self):
        """Yield ``(rows, background, sigma)`` for successive bands of rows."""
        for start in range(0, self.height, _ROWS_PER_BAND):
            rows = slice(start, min(start + _ROWS_PER_BAND, self.height))
            y = np.arange(rows.start, rows.stop)
            background = self.back(y, self.columns).astype(np.float32)
            sigma = self.sigma(y, self.columns).astype(np.float32)
            bad = ~(sigma > 0) | ~np.isfinite(sigma)
            if bad.any():
                sigma[bad] = self.floor
            yield rows, background, sigma


def _constant_lines(image):
    """Pixels of rows and columns whose values are all equal (blank, zero-filled)."""
    rows = np.ptp(image, axis=1) == 0
    columns = np.ptp(image, axis=0) == 0
    if not rows.any() and not columns.any():
        return None
    return rows[:, None] | columns[None, :]


def background_maps(image, mask=None, *, mesh_size=MESH_SIZE, background="maximask"):
    """Estimate the background and background-noise maps of a 2-D image.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D float32 image, already cleaned of NaN and clipped.
    mask : `numpy.ndarray` of bool, optional
        Pixels to leave out of the statistics.
    mesh_size : int, optional
        Mesh size in pixels.
    background : {"maximask", "astromask"}, optional
        Upstream's estimate (the default here, for parity) or astromask's
        (see the module's docstring).

    Returns
    -------
    background, sigma : `numpy.ndarray`
        float32 maps of the image's shape; ``sigma`` is strictly positive.
    """
    model = _Background(image, mask, mesh_size, check_background(background))
    background = np.empty(image.shape, dtype=np.float32)
    sigma = np.empty(image.shape, dtype=np.float32)
    for rows, back_band, sigma_band in model.bands():
        background[rows] = back_band
        sigma[rows] = sigma_band
    return background, sigma


def normalize(image, mask=None, *, background="astromask"):
    """Normalise a 2-D image the way MaxiMask's networks expect.

    Parameters
    ----------
    image : array-like
        2-D image of any numeric dtype or byte order.  Not modified.
    mask : array-like of bool, optional
        Pixels left out of the background statistics (True = bad).
        Non-finite pixels are always left out.
    background : {"astromask", "maximask"}, optional
        ``"astromask"`` (default): the background and noise maps do not dip
        at the corners, and constant rows and columns are left out of the
        statistics.  ``"maximask"``: upstream MaxiMask's estimate, number for
        number (the parity mode).

    Returns
    -------
    normalized : `numpy.ndarray`
        float32 ``(image - background) / sigma``, the maps of
        `background_maps` (evaluated a band of rows at a time, so that
        besides the result only the mask takes memory in proportion to the
        frame).
    """
    check_background(background)
    with np.errstate(over="ignore"):  # values beyond float32 become +-inf, then clipped
        image = np.array(image, dtype=np.float32)  # a copy, native byte order
    bad = ~np.isfinite(image)
    image[np.isnan(image)] = 0
    np.clip(image, CLIP_LOW, CLIP_HIGH, out=image)
    if mask is not None:
        bad |= np.asarray(mask, dtype=bool)
    if background == "astromask":
        constant = _constant_lines(image)
        if constant is not None and not (bad | constant).all():
            bad |= constant
    mask = bad if bad.any() else None
    del bad
    for rows, back, sigma in _Background(image, mask, MESH_SIZE, background).bands():
        band = image[rows]
        band -= back
        band /= sigma
    return image
