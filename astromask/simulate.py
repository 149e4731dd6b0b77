"""Simulated frames and contaminant injection, for demos, tests and training sets.

`simulated_frame` makes a whole raw frame with known contaminants and needs no
download: sky, read noise and Poisson noise, Gaussian stars (some saturated),
cosmic-ray hits and tracks, a hot column, hot pixels and a satellite trail,
each recorded in a truth map.

The other functions build training sets the way MaxiMask does (Paillassa,
Bertin & Bouy 2020, A&A 634, A48, section 2.1): contaminants are added to
clean ("uncontaminated") images, and each comes with its ground-truth mask.

* Cosmic rays (``CR``) are real hits, not simulated ones.  A *hit* is a pair
  ``(values, footprint)``: a 2-D float32 array of the hit's signal above the
  background (0 outside its footprint) and a bool array of the same shape,
  the truth pixels.  `cosmic_rays_from_dark` cuts them out of dark frames as
  the paper does (section 2.1.3); `cosmic_rays_from_frame` cuts a science
  frame's own hits out with L.A. Cosmic.  `inject_cosmic_rays` adds hits at
  random places, and `maximask_cr_scale` gives the paper's rescaling of dark
  hits (its eq. 2).
* `contaminate` simulates hot and dead columns, lines, clusters and pixels
  (``HCL``, ``DCL``, ``HP``, ``DP``; section 2.1.4), satellite trails
  (``TRL``; section 2.1.6), overscan strips (``OV``; section 2.1.11) and
  saturation with bleeding (``SAT``; section 2.1.9).  Where the paper uses
  SkyMaker images, simple analytic approximations (Gaussian profiles) stand
  in; each function's notes say how.

Class names are those of `astromask.classes.CLASS_NAMES`.  All functions
take keyword-only options, are deterministic under ``seed`` (an int, `None`
or a `numpy.random.Generator`), return new arrays and never modify their
inputs.  None of them imports Keras.
"""

import warnings

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, NDData
from astropy.stats import sigma_clipped_stats
from scipy import ndimage

from astromask._validate import as_float32, as_image, finite_number, integer_at_least
from astromask.classes import CLASS_NAMES

__all__ = [
    "contaminate",
    "cosmic_rays_from_dark",
    "cosmic_rays_from_frame",
    "inject_cosmic_rays",
    "maximask_cr_scale",
    "simulated_frame",
]

#: Classes that `contaminate` simulates, in `CLASS_NAMES` order.
_CONTAMINATE_CLASSES = tuple(
    name for name in CLASS_NAMES if name in {"HCL", "DCL", "HP", "DP", "TRL", "SAT", "OV"}
)
_DEFAULT_DENSITY = 1 / 2000  # injected hits per pixel
_SQUARE = np.ones((3, 3), dtype=bool)  # 3x3 structuring element, 8-connectivity


def simulated_frame(shape=(1024, 1024), *, seed=0, sky=800.0, bias=300.0, gain=1.5, read_noise=5.0):
    """Make a simulated raw CCD frame.

    Parameters
    ----------
    shape : tuple of int, optional
        ``(ny, nx)``.
    seed : int, optional
        Random seed; the same seed gives the same frame.
    sky : float, optional
        Sky level in ADU.
    bias : float, optional
        Bias level in ADU.
    gain : float, optional
        Gain in electrons per ADU.
    read_noise : float, optional
        Read noise in electrons.

    Returns
    -------
    ccd : `~astropy.nddata.CCDData`
        float32 data in ADU, with ``GAIN``, ``RDNOISE`` and ``SATURATE`` in
        ``meta``.
    truth : dict of str to `numpy.ndarray` of bool
        Pixels of each simulated contaminant, keyed by class name
        (``"CR"``, ``"HCL"``, ``"HP"``, ``"TRL"``, ``"SAT"``).

    Examples
    --------
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((256, 256), seed=1)
    >>> ccd.shape, ccd.unit, ccd.meta["GAIN"]
    ((256, 256), Unit("adu"), 1.5)
    >>> sorted(truth), bool(truth["CR"].any())
    (['CR', 'HCL', 'HP', 'SAT', 'TRL'], True)
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    saturate = 60000.0
    image = np.full(shape, sky, dtype=np.float64)
    yy, xx = np.mgrid[0:ny, 0:nx]
    truth = {name: np.zeros(shape, dtype=bool) for name in ("CR", "HCL", "HP", "TRL", "SAT")}

    # Stars: Gaussian PSF, sigma 1.8 px; fluxes from a power law.
    n_stars = max(1, int(ny * nx / 6000))
    ys, xs = rng.uniform(0, ny, n_stars), rng.uniform(0, nx, n_stars)
    fluxes = 2e3 * (1 - rng.uniform(0, 1, n_stars)) ** (-1.2)
    fluxes[: max(1, n_stars // 100)] = 5e6  # a few saturating stars
    sigma = 1.8
    for y, x, flux in zip(ys, xs, fluxes):
        r = int(min(6 * sigma + 3 * np.log10(flux), 40))
        y0, y1 = max(int(y) - r, 0), min(int(y) + r + 1, ny)
        x0, x1 = max(int(x) - r, 0), min(int(x) + r + 1, nx)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = yy[y0:y1, x0:x1] - y, xx[y0:y1, x0:x1] - x
        image[y0:y1, x0:x1] += (
            flux / (2 * np.pi * sigma**2) * np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
        )

    # Satellite trail across the frame.
    slope, intercept = 0.3, ny * 0.2
    distance = np.abs(yy - (slope * xx + intercept)) / np.hypot(1, slope)
    trail = 400.0 * np.exp(-(distance**2) / (2 * 1.2**2))
    image += trail
    truth["TRL"] = trail > 40

    # Noise (electrons), back to ADU.
    electrons = rng.poisson(np.clip(image, 0, None) * gain).astype(np.float64)
    image = (electrons + rng.normal(0, read_noise, shape)) / gain

    # Cosmic rays: single hits, small clusters and short tracks, not convolved.
    n_rays = max(1, int(ny * nx / 4000))
    for _ in range(n_rays):
        y, x = rng.integers(2, ny - 2), rng.integers(2, nx - 2)
        length = rng.integers(1, 8)
        angle = rng.uniform(0, np.pi)
        for step in range(length):
            cy = int(round(y + step * np.sin(angle)))
            cx = int(round(x + step * np.cos(angle)))
            if 0 <= cy < ny and 0 <= cx < nx:
                image[cy, cx] += rng.uniform(300, 3000)
                truth["CR"][cy, cx] = True

    # Hot column and hot pixels.
    col = nx // 3
    image[ny // 2 :, col] += 1500
    truth["HCL"][ny // 2 :, col] = True
    hot = rng.integers(0, ny, 30), rng.integers(0, nx, 30)
    image[hot] += 5000
    truth["HP"][hot] = True

    # Bias level and saturation.
    image += bias
    truth["SAT"] = image >= saturate
    image = np.minimum(image, saturate)

    meta = {"GAIN": gain, "RDNOISE": read_noise, "SATURATE": saturate}
    ccd = CCDData(image.astype(np.float32), unit=u.adu, meta=meta)
    return ccd, truth


# ---------------------------------------------------------------------------
# Input checks and shared helpers
# ---------------------------------------------------------------------------


def _image(image, name="image"):
    """Return ``image`` as a 2-D float64 array (a new one when converted).

    Masked arrays are refused (their mask would be lost); bool, complex and
    other non-real arrays too, with the reason.  Values beyond the float32
    range (the dtype of every result here) become infinite, so they count as
    bad pixels like NaN.
    """
    if isinstance(image, NDData):
        image = image.data
    if isinstance(image, np.ma.MaskedArray):
        msg = (
            f"{name}: masked arrays are not supported here (the mask would be lost); "
            f"pass image.filled(numpy.nan) so the masked pixels count as bad"
        )
        raise TypeError(msg)
    array = as_image(image, name=name, ndims=(2,))
    return as_float32(array).astype(np.float64)


def _sky(data, name="image", *, mask=None):
    """Sigma-clipped (3 sigma) median and standard deviation of the finite pixels."""
    invalid = ~np.isfinite(data)
    if mask is not None:
        invalid |= mask
    if invalid.all():
        raise ValueError(f"{name} has no finite (unmasked) pixel; pass an image with data")
    _, median, std = sigma_clipped_stats(data, mask=invalid, sigma=3.0, maxiters=10)
    return float(median), float(std)


def _check_hits(hits):
    """Validate a hit library; return a list of (float64 values, bool footprint)."""
    if isinstance(hits, np.ndarray) or not hasattr(hits, "__len__"):
        msg = (
            "hits must be a list of (values, footprint) pairs, as returned by "
            f"cosmic_rays_from_dark or cosmic_rays_from_frame; got {type(hits).__name__}"
        )
        raise ValueError(msg)
    if len(hits) == 0:
        msg = (
            "hits is empty; build a hit library first, e.g. with cosmic_rays_from_dark "
            "(try a lower nsigma or another dark) or cosmic_rays_from_frame"
        )
        raise ValueError(msg)
    library = []
    for index, hit in enumerate(hits):
        if isinstance(hit, np.ndarray) or not isinstance(hit, tuple | list) or len(hit) != 2:
            msg = (
                f"hits[{index}] must be a (values, footprint) pair; for a bare array of "
                "values use (values, values > 0)"
            )
            raise ValueError(msg)
        values = np.asarray(hit[0], dtype=np.float64)
        footprint = np.asarray(hit[1])
        if values.ndim != 2 or values.size == 0:
            msg = f"hits[{index}]: values must be a non-empty 2-D array; got shape {values.shape}"
            raise ValueError(msg)
        if footprint.shape != values.shape:
            msg = (
                f"hits[{index}]: footprint has shape {footprint.shape} but values have "
                f"{values.shape}; they must match"
            )
            raise ValueError(msg)
        if not np.isfinite(values).all():
            msg = f"hits[{index}]: values must be finite; replace NaN/inf (e.g. by 0)"
            raise ValueError(msg)
        library.append((values, footprint.astype(bool)))
    return library


# ---------------------------------------------------------------------------
# Cosmic rays
# ---------------------------------------------------------------------------


def cosmic_rays_from_dark(dark, *, nsigma=3.0, bad=None, max_pixels=None):
    """Cut the cosmic-ray hits of a dark frame out as a hit library.

    MaxiMask's recipe (section 2.1.3): the dark ``D`` is background-subtracted,
    thresholded at ``nsigma`` standard deviations above its median, the mask
    is dilated with a 3x3 kernel, and every connected group of dilated pixels
    (8-connectivity) becomes one hit.  The dilated mask is the ground truth,
    as in MaxiMask's training set.

    Parameters
    ----------
    dark : array-like or `~astropy.nddata.CCDData`
        2-D dark frame (shutter closed, long exposure), bias-subtracted or
        not.
    nsigma : float, optional
        Detection threshold in standard deviations above the median (the
        paper's 3).
    bad : array-like of bool, optional
        Pixels to leave out (the dark's hot pixels and columns, which are not
        cosmic rays), same shape as ``dark``.  Non-finite pixels are always
        left out.
    max_pixels : int, optional
        Drop hits whose (dilated) footprint has more than this many pixels,
        for example to leave out a dark's large defects.

    Returns
    -------
    hits : list of tuple
        ``(values, footprint)`` per hit, cut to the footprint's bounding box
        and in raster order of their first pixel: ``values`` (float32) is the
        background-subtracted dark inside the footprint and 0 outside;
        ``footprint`` (bool) is the dilated threshold mask.

    Notes
    -----
    The background is one number, the sigma-clipped (3 sigma) median of the
    valid pixels, and the standard deviation is the sigma-clipped one; the
    paper uses a SExtractor-like background map instead, which matters only
    for darks with gradients (subtract such a background first).  The values
    in the dilated rim are the dark's noise, as in the paper.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.simulate import cosmic_rays_from_dark
    >>> dark = np.random.default_rng(0).normal(100.0, 5.0, (64, 64))
    >>> dark[10, 20:24] += 400.0  # a short track
    >>> hits = cosmic_rays_from_dark(dark, nsigma=5)
    >>> values, footprint = hits[0]
    >>> len(hits), footprint.shape, int(footprint.sum())
    (1, (3, 6), 18)
    """
    return _dark_hits(dark, nsigma=nsigma, bad=bad, max_pixels=max_pixels)[0]


def _dark_hits(dark, *, nsigma=3.0, bad=None, max_pixels=None):
    """`cosmic_rays_from_dark`, also returning each hit's bounding box (slices)."""
    data = _image(dark, "dark")
    nsigma = finite_number(nsigma, "nsigma", minimum=0, strict=True)
    valid = np.isfinite(data)
    if bad is not None:
        bad = np.asarray(bad)
        if bad.shape != data.shape:
            msg = f"bad must have the dark's shape {data.shape}; got {bad.shape}"
            raise ValueError(msg)
        valid &= ~bad.astype(bool)
    if max_pixels is not None:
        max_pixels = integer_at_least(max_pixels, "max_pixels", minimum=1)
    median, std = _sky(data, "dark", mask=~valid)
    background_subtracted = np.where(valid, data - median, 0.0)
    detected = valid & (background_subtracted > nsigma * std)
    dilated = ndimage.binary_dilation(detected, structure=_SQUARE) & valid
    labels, _ = ndimage.label(dilated, structure=_SQUARE)
    hits, boxes = [], []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        footprint = labels[box] == index
        if max_pixels is not None and footprint.sum() > max_pixels:
            continue
        values = np.where(footprint, background_subtracted[box], 0.0).astype(np.float32)
        hits.append((values, footprint))
        boxes.append(box)
    return hits, boxes


def cosmic_rays_from_frame(
    image, *, sigclip=4.5, min_pixels=2, max_pixels=60, star_distance=10.0, min_peak=10.0
):
    """Cut a science frame's own cosmic-ray hits out as a hit library.

    L.A. Cosmic (`ccdproc.cosmicray_lacosmic`) finds the candidates.  A
    candidate (an 8-connected group of L.A. Cosmic pixels) is kept when it
    has ``min_pixels`` to ``max_pixels`` pixels, its bounding-box centre lies
    at least ``star_distance`` pixels from every star that
    `photutils.detection.DAOStarFinder` finds (FWHM 3 px, threshold 15
    sigma), and it peaks more than ``min_peak`` sigma above the local 5x5
    median.  Hits found this way are biased towards those L.A. Cosmic finds
    easily: faint hits are under-represented.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.CCDData`
        2-D frame, best in electrons (L.A. Cosmic runs with gain 1 and read
        noise 5).  Non-finite pixels are replaced by the median for L.A.
        Cosmic and never belong to a hit.
    sigclip : float, optional
        L.A. Cosmic's Laplacian-to-noise limit.
    min_pixels, max_pixels : int, optional
        Smallest and largest hit footprint kept, in pixels.
    star_distance : float, optional
        Minimum distance (pixels) from a star: closer candidates are star
        cores, not hits.
    min_peak : float, optional
        Minimum peak above the local median, in units of the frame's
        sigma-clipped standard deviation.

    Returns
    -------
    hits : list of tuple
        ``(values, footprint)`` per hit, cut to its bounding box: ``values``
        (float32) is the excess over the local 5x5 median (clipped at 0,
        image units) inside the footprint, 0 outside; ``footprint`` is L.A.
        Cosmic's group of pixels.

    Notes
    -----
    Needs `photutils`, which astromask itself does not require.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.simulate import cosmic_rays_from_frame
    >>> frame = np.random.default_rng(0).normal(1000.0, 10.0, (64, 64))
    >>> frame[20, 30:33] += 800.0
    >>> frame[40:42, 12] += 600.0
    >>> hits = cosmic_rays_from_frame(frame)
    >>> sorted(int(footprint.sum()) for _, footprint in hits)
    [2, 3]
    """
    hits = _frame_hits(
        image,
        sigclip=sigclip,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        star_distance=star_distance,
        min_peak=min_peak,
    )[0]
    return [(values.astype(np.float32), footprint) for values, footprint in hits]


def _frame_hits(
    image, *, sigclip=4.5, min_pixels=2, max_pixels=60, star_distance=10.0, min_peak=10.0
):
    """`cosmic_rays_from_frame`, returning ``(hits, crmask, sources, median, std)``.

    The hits' values stay float64 here (the benchmarks' hit shapes);
    ``crmask`` is L.A. Cosmic's mask, ``sources`` the star table (or `None`),
    ``median`` and ``std`` the frame's sigma-clipped statistics.
    """
    from ccdproc import cosmicray_lacosmic

    try:
        from photutils.detection import DAOStarFinder
        from photutils.utils.exceptions import NoDetectionsWarning
    except ImportError as err:  # pragma: no cover - photutils is in the test environment
        msg = "cosmic_rays_from_frame needs photutils; install it with `pip install photutils`"
        raise ImportError(msg) from err

    data = _image(image)
    sigclip = finite_number(sigclip, "sigclip", minimum=0, strict=True)
    min_pixels = integer_at_least(min_pixels, "min_pixels", minimum=1)
    max_pixels = integer_at_least(max_pixels, "max_pixels", minimum=min_pixels)
    star_distance = finite_number(star_distance, "star_distance", minimum=0)
    min_peak = finite_number(min_peak, "min_peak")
    finite = np.isfinite(data)
    if not finite.any():
        raise ValueError("image has no finite pixel; pass an image with data")
    if not finite.all():
        data = np.where(finite, data, np.median(data[finite]))
    _, crmask = cosmicray_lacosmic(data, sigclip=sigclip, gain=1.0, readnoise=5.0, satlevel=1e9)
    crmask = np.asarray(crmask, dtype=bool) & finite
    dirty = ndimage.binary_dilation(crmask, iterations=1)
    _, median, std = sigma_clipped_stats(data, mask=dirty | ~finite, sigma=3)
    finder = DAOStarFinder(fwhm=3.0, threshold=15 * std, exclude_border=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        sources = finder(data - median, mask=dirty)
    if sources is not None:
        xname, yname = (
            ("x_centroid", "y_centroid")
            if "x_centroid" in sources.colnames
            else ("xcentroid", "ycentroid")
        )
        xy = np.transpose([np.asarray(sources[xname]), np.asarray(sources[yname])])
    else:
        xy = np.zeros((0, 2))
    local = ndimage.median_filter(np.where(dirty, np.nan, data), size=5, mode="nearest")
    local = np.where(np.isnan(local), median, local)
    labels, _ = ndimage.label(crmask, structure=_SQUARE)
    hits = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        footprint = labels[box] == index
        if not min_pixels <= footprint.sum() <= max_pixels:
            continue
        cy = (box[0].start + box[0].stop) / 2
        cx = (box[1].start + box[1].stop) / 2
        if len(xy) and np.min(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)) < star_distance:
            continue  # a star's core, not a hit
        excess = np.where(footprint, data[box] - local[box], 0.0)
        if excess.max() > min_peak * std:
            hits.append((np.clip(excess, 0, None), footprint))  # float64
    return hits, crmask, sources, median, std


def _orientations(shape, rotate, ny, nx):
    """The (k, transpose) of the hit orientations that fit in a ``ny x nx`` frame."""
    h, w = shape
    found = []
    candidates = [(k, t) for k in range(4) for t in range(2)] if rotate else [(0, 0)]
    for k, transpose in candidates:
        rows, cols = (h, w) if (k % 2 == 0) != bool(transpose) else (w, h)
        if rows <= ny and cols <= nx:
            found.append((k, transpose))
    return found


def inject_cosmic_rays(
    image, hits, *, density=None, number=None, scale=1.0, rotate=True, seed=None
):
    """Add cosmic-ray hits at random places, with their truth mask.

    Each injected hit is drawn uniformly from ``hits``, optionally rotated by
    a random multiple of 90 degrees and transposed, and placed at a uniformly
    random position where it lies entirely inside the frame.  Its ``values``
    times ``scale`` are added inside its footprint (MaxiMask eq. 2), so hits
    may overlap each other and sources.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.CCDData`
        2-D clean image.
    hits : list of tuple
        Hit library: ``(values, footprint)`` pairs, as returned by
        `cosmic_rays_from_dark` or `cosmic_rays_from_frame`.  Hits that do
        not fit in the frame in any allowed orientation are left out of the
        draw.
    density : float, optional
        Hits per pixel; ``round(density * image.size)`` hits are injected.
        Default 1/2000 when ``number`` is not given either.
    number : int, optional
        Exact number of hits (instead of ``density``).
    scale : float, optional
        Factor applied to the hits' values.  For hits from the same
        instrument in the same unit (and gain) as ``image``, ``scale=1``
        keeps them physical; for dark-frame hits of other cameras,
        MaxiMask's rescaling is ``scale=maximask_cr_scale(image)``.
    rotate : bool, optional
        Apply a random one of the 8 rotations/transpositions to each hit.
    seed : int, `numpy.random.Generator` or None, optional
        Random seed or generator.

    Returns
    -------
    contaminated : `numpy.ndarray` of float32
        A copy of ``image`` with the hits added.
    truth : `numpy.ndarray` of bool
        Union of the placed footprints.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.simulate import inject_cosmic_rays
    >>> sky = np.random.default_rng(0).normal(1000.0, 10.0, (100, 100))
    >>> hit = (np.full((1, 3), 500.0, np.float32), np.ones((1, 3), bool))
    >>> dirty, truth = inject_cosmic_rays(sky, [hit], number=1, seed=1)
    >>> int(truth.sum()), bool(np.allclose(dirty[truth] - sky[truth], 500.0))
    (3, True)
    """
    data = _image(image)
    library = _check_hits(hits)
    if density is not None and number is not None:
        raise ValueError("give density or number, not both")
    if number is not None:
        count = integer_at_least(number, "number", minimum=0)
    else:
        density = _DEFAULT_DENSITY if density is None else density
        density = finite_number(density, "density", minimum=0)
        count = int(round(density * data.size))
    scale = finite_number(scale, "scale", minimum=0)
    rng = np.random.default_rng(seed)
    ny, nx = data.shape
    usable = []
    for values, footprint in library:
        found = _orientations(values.shape, bool(rotate), ny, nx)
        if found:
            usable.append((values, footprint, found))
    if count and not usable:
        smallest = min(values.shape for values, _ in library)
        msg = (
            f"no hit fits in the {ny}x{nx} image (smallest hit {smallest[0]}x{smallest[1]}); "
            "use a larger image or a library of smaller hits"
        )
        raise ValueError(msg)
    contaminated = np.array(data, dtype=np.float64, copy=True)
    truth = np.zeros(data.shape, dtype=bool)
    for _ in range(count):
        values, footprint, found = usable[rng.integers(len(usable))]
        k, transpose = found[rng.integers(len(found))]
        values, footprint = np.rot90(values, k), np.rot90(footprint, k)
        if transpose:
            values, footprint = values.T, footprint.T
        h, w = values.shape
        y = rng.integers(0, ny - h + 1)
        x = rng.integers(0, nx - w + 1)
        box = (slice(y, y + h), slice(x, x + w))
        contaminated[box] += np.where(footprint, values * scale, 0.0)
        truth[box] |= footprint
    return contaminated.astype(np.float32), truth


def maximask_cr_scale(image, *, k_c=0.125):
    """MaxiMask's rescaling of dark-frame hits for an image: ``k_c * sigma_U``.

    MaxiMask (eq. 2) adds a dark's background-subtracted hits ``D`` to a
    clean image ``U`` as ``U + k_C sigma_U M(D) D``, with ``sigma_U`` the
    standard deviation of ``U``'s background and ``k_C = 1/8`` set
    empirically, so hits from darks of any camera land at a brightness
    relative to the image's noise.  Pass the result as ``scale`` to
    `inject_cosmic_rays`.  Hits from the same instrument (same unit and gain)
    need no rescaling: use ``scale=1``.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.CCDData`
        2-D clean image.
    k_c : float, optional
        The paper's ``k_C``.

    Returns
    -------
    scale : float
        ``k_c`` times the sigma-clipped (3 sigma) standard deviation of the
        image's finite pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.simulate import maximask_cr_scale
    >>> sky = np.random.default_rng(0).normal(1000.0, 8.0, (200, 200))
    >>> round(maximask_cr_scale(sky), 1)
    1.0
    """
    data = _image(image)
    k_c = finite_number(k_c, "k_c", minimum=0, strict=True)
    _, std = _sky(data)
    return k_c * std


# ---------------------------------------------------------------------------
# Simulated detector defects, trails, overscan and saturation
# ---------------------------------------------------------------------------


def _hot_values(rng, size, std):
    """Hot values (added to the pixels): N(v, (0.02 v)^2), v ~ U[15, 100] sigma_U."""
    v = rng.uniform(15 * std, 100 * std)
    return rng.normal(v, 0.02 * v, size)


def _dead_values(rng, size, median, std):
    """Dead values (replacing the pixels), one of the paper's three recipes."""
    recipe = rng.integers(3)
    if recipe == 0:
        return np.zeros(() if size is None else size)
    if recipe == 1:
        return rng.normal(0.0, 0.02 * std, size)
    v = rng.uniform(0.1 * median, 0.7 * median)
    return rng.normal(v, 0.02 * v, size)


def _columns_and_lines(rng, shape):
    """Boxes of 1 to 4 columns or lines: length U[30, full], thickness U[1, 3]."""
    boxes = []
    for _ in range(rng.integers(1, 5)):
        vertical = bool(rng.integers(2))
        along, across = shape if vertical else shape[::-1]
        length = rng.integers(min(30, along), along + 1)
        start = rng.integers(0, along - length + 1)
        thickness = min(int(rng.integers(1, 4)), across)
        position = rng.integers(0, across - thickness + 1)
        run = slice(start, start + length)
        band = slice(position, position + thickness)
        boxes.append((run, band) if vertical else (band, run))
    return boxes


def _cluster_shape(rng):
    """A rectangle or a convex 5- or 6-gon rasterised in a 20x20 box (tight bool mask)."""
    if rng.integers(2):
        h, w = rng.integers(2, 21, size=2)
        return np.ones((h, w), dtype=bool)
    n = rng.integers(5, 7)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    a, b = rng.uniform(2.0, 10.0, size=2)
    phi = rng.uniform(0, np.pi)
    ex, ey = a * np.cos(angles), b * np.sin(angles)
    # Points on an ellipse in angular order are the vertices of a convex polygon.
    vx = 9.5 + ex * np.cos(phi) - ey * np.sin(phi)
    vy = 9.5 + ex * np.sin(phi) + ey * np.cos(phi)
    yy, xx = np.mgrid[0:20, 0:20]
    inside = np.ones((20, 20), dtype=bool)
    for i in range(n):
        x0, y0, x1, y1 = vx[i], vy[i], vx[(i + 1) % n], vy[(i + 1) % n]
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    if not inside.any():
        inside[10, 10] = True
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    return inside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _clusters(rng, shape):
    """Masks of 1 to 3 clusters placed uniformly inside the frame."""
    ny, nx = shape
    masks = []
    for _ in range(rng.integers(1, 4)):
        cluster = _cluster_shape(rng)[:ny, :nx]
        h, w = cluster.shape
        y, x = rng.integers(0, ny - h + 1), rng.integers(0, nx - w + 1)
        mask = np.zeros(shape, dtype=bool)
        mask[y : y + h, x : x + w] = cluster
        masks.append(mask)
    return masks


def _punctual(rng, shape):
    """Flat indices of a fraction U[2e-4, 5e-4] of the pixels (at least one)."""
    size = shape[0] * shape[1]
    n = max(1, int(round(rng.uniform(2e-4, 5e-4) * size)))
    return rng.choice(size, size=n, replace=False)


def _trail(rng, shape, std, *, spacing=0.5, jitter=1.0):
    """A satellite trail across the frame (noise-free), in image units."""
    ny, nx = shape
    angle = rng.uniform(0, np.pi)
    yc, xc = rng.uniform(0, ny), rng.uniform(0, nx)
    sigma = rng.uniform(1.5, 4.0) / (2 * np.sqrt(2 * np.log(2)))
    amplitude = rng.uniform(3.0, 50.0) * std
    half = np.hypot(ny, nx)
    t = np.arange(-half, half, spacing)
    y = yc + t * np.sin(angle) + rng.normal(0, jitter, t.size)
    x = xc + t * np.cos(angle) + rng.normal(0, jitter, t.size)
    # Stars of equal flux along the path; the mean profile across the trail is a
    # Gaussian of variance sigma^2 + jitter^2 peaking at ``amplitude``.
    flux = np.full(t.size, amplitude * spacing * np.sqrt(2 * np.pi * (sigma**2 + jitter**2)))
    if rng.integers(2):  # a flare: a bright stretch along the trail
        inside = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
        t0 = rng.uniform(t[inside].min(), t[inside].max()) if inside.any() else 0.0
        boost, width = rng.uniform(1.0, 10.0), rng.uniform(3.0, 30.0)
        flux *= 1 + boost * np.exp(-((t - t0) ** 2) / (2 * width**2))
    pad = int(np.ceil(5 * sigma + 5 * jitter)) + 2
    canvas = np.zeros((ny + 2 * pad, nx + 2 * pad))
    py, px = y + pad, x + pad
    iy, ix = np.floor(py).astype(int), np.floor(px).astype(int)
    keep = (iy >= 0) & (iy < canvas.shape[0] - 1) & (ix >= 0) & (ix < canvas.shape[1] - 1)
    iy, ix, fy, fx, flux = iy[keep], ix[keep], (py - iy)[keep], (px - ix)[keep], flux[keep]
    for dy, dx, weight in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        np.add.at(canvas, (iy + dy, ix + dx), flux * weight)
    canvas = ndimage.gaussian_filter(canvas, sigma, mode="constant", truncate=5.0)
    return canvas[pad : pad + ny, pad : pad + nx]


def _saturated_stars(rng, work, saturation, median, std, columns):
    """Add 1 or 2 saturated Gaussian stars with short vertical bleed trails, in place.

    Star centres fall in the column range ``columns`` (outside an overscan).
    The charge above saturation in each column spills up and down that
    column (at most 5 to 30 pixels each way), set to the saturation level.
    """
    ny, nx = work.shape
    depth = saturation - median
    for _ in range(rng.integers(1, 3)):
        y, x = rng.uniform(0, ny), rng.uniform(*columns)
        sigma = rng.uniform(2.0, 5.0) / (2 * np.sqrt(2 * np.log(2)))
        peak = depth * rng.uniform(3.0, 30.0)
        max_bleed = int(rng.integers(5, 31))
        radius = int(np.ceil(sigma * np.sqrt(2 * np.log(max(peak / (0.1 * std), 2.0)))))
        radius = min(radius, 60)
        y0, y1 = max(int(y) - radius, 0), min(int(y) + radius + 1, ny)
        x0, x1 = max(int(x) - radius, 0), min(int(x) + radius + 1, nx)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        work[y0:y1, x0:x1] += peak * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))
        for c in range(x0, x1):
            column = work[y0:y1, c]
            over = np.flatnonzero(column > saturation)
            if over.size == 0:
                continue
            excess = float(np.sum(column[over] - saturation))
            spill = min(int(excess / (2 * depth)), max_bleed)
            top, bottom = y0 + over[0], y0 + over[-1]
            work[max(top - spill, 0) : top, c] = saturation
            work[bottom + 1 : bottom + 1 + spill, c] = saturation


def _classes(classes):
    """Validate ``classes``; return canonical names, without duplicates."""
    if isinstance(classes, str):
        classes = [classes]
    try:
        requested = list(classes)
    except TypeError as err:
        raise ValueError(f"classes must be a list of class names; got {classes!r}") from err
    names = []
    supported = ", ".join(_CONTAMINATE_CLASSES)
    for name in requested:
        key = str(name).upper()
        if key not in CLASS_NAMES:
            msg = f"classes: unknown class {name!r}; contaminate simulates {supported}"
            raise ValueError(msg)
        if key not in _CONTAMINATE_CLASSES:
            hint = " (use inject_cosmic_rays for CR)" if key == "CR" else ""
            msg = f"classes: {key} is not simulated by contaminate{hint}; choose among {supported}"
            raise ValueError(msg)
        if key not in names:
            names.append(key)
    return names


def contaminate(
    image, *, classes=("HCL", "DCL", "HP", "DP", "TRL", "SAT", "OV"), saturation=None, seed=None
):
    """Add simulated MaxiMask contaminants to a clean image, with their truth masks.

    The distributions follow MaxiMask section 2.1 (``sigma_U`` and ``m_U``
    are the sigma-clipped standard deviation and median of ``image``):

    ``HCL``, ``DCL``
        1 to 4 hot (``HCL``) and, separately, 1 to 4 dead (``DCL``) defects,
        each a column or a line with equal odds, of uniform length in [30,
        full] and thickness in [1, 3] pixels.  ``DCL`` also gets 1 to 3 dead
        clusters (the class table's "dead columns/lines/clusters").
    ``HP``, ``DP``
        A uniform fraction in [2e-4, 5e-4] of the pixels each; ``HP`` also
        gets 1 to 3 hot clusters.  Clusters are rectangles or convex 5- or
        6-gons (vertices on a random ellipse) in a 20x20 box.
    Hot values
        ``N(v, (0.02 v)^2)`` with ``v`` uniform in [15, 100] ``sigma_U``
        (one ``v`` per column, line or cluster, one per punctual pixel),
        *added* to the pixels: the paper gives them relative to the noise,
        so they are read as an excess over the sky (replacing would make
        them darker than the sky of a raw frame).
    Dead values
        *Replace* the pixels, by one of the paper's three equiprobable
        recipes: exactly 0; ``N(0, (0.02 sigma_U)^2)``; or ``N(v, (0.02
        v)^2)`` with ``v`` uniform in [0.1, 0.7] ``m_U``.  This needs a
        positive sky level (a raw or flat-fielded frame, not a
        sky-subtracted one).
    ``TRL``
        A straight trail across the frame at a random angle through a random
        point, drawn as equal point sources every 0.5 px along the path,
        each jittered by N(0, 1 px) in both coordinates and blurred by a
        Gaussian PSF of FWHM uniform in [1.5, 4] px; the mean peak is
        uniform in [3, 50] ``sigma_U``.  Half the trails flare (a Gaussian
        brightening, 1 to 10 times, 3 to 30 px wide along the trail).  The
        paper renders the stars with SkyMaker; this is a noise-free
        analytic approximation, added whole.  Truth: the trail above 0.5
        ``sigma_U``, dilated 7x7 as in the paper.
    ``OV``
        A strip of 10 to 50 columns (at most a quarter of the width) at the
        left or right edge, replaced as the paper says ("in the same way as
        bad pixel values": one of the three dead recipes for the level),
        plus read noise of a random fraction 0.3 to 1 of ``sigma_U``.  The
        other classes' truth is cleared there.
    ``SAT``
        One or two Gaussian stars (FWHM 2 to 5 px) peaking 3 to 30 times
        above the saturation level, each with a vertical bleed trail (the
        charge above saturation spills along its column, at most 5 to 30 px
        each way), are added outside the overscan; then every pixel at or
        above ``saturation`` (stars of ``image`` and other contaminants
        included) is set to it and marked.

    The order is: saturated stars and trail (sky), then columns and lines,
    clusters and pixels (detector), overscan, and saturation clipping last.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.CCDData`
        2-D clean image with a positive sky level.
    classes : str or sequence of str, optional
        Classes to add (case-insensitive), among ``HCL``, ``DCL``, ``HP``,
        ``DP``, ``TRL``, ``SAT`` and ``OV``.
    saturation : float, optional
        Saturation level, in image units, above ``m_U``; only with ``SAT``.
        By default ``m_U`` plus 300 to 1000 ``sigma_U``.
    seed : int, `numpy.random.Generator` or None, optional
        Random seed or generator.  Each class draws from its own stream, so a
        class looks the same whichever other classes are requested (except
        that the overscan strip overwrites and the clipping caps the rest).

    Returns
    -------
    contaminated : `numpy.ndarray` of float32
        A contaminated copy of ``image``.
    truth : dict of str to `numpy.ndarray` of bool
        One mask per requested class, keyed by class name.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.simulate import contaminate
    >>> sky = np.random.default_rng(0).normal(1000.0, 10.0, (100, 120))
    >>> dirty, truth = contaminate(sky, classes=("HP", "SAT"), saturation=5000.0, seed=1)
    >>> sorted(truth), bool(truth["HP"].any())
    (['HP', 'SAT'], True)
    >>> bool(np.all(dirty[truth["SAT"]] == 5000.0)), float(dirty.max())
    (True, 5000.0)
    """
    data = _image(image)
    names = _classes(classes)
    if saturation is not None and "SAT" not in names:
        raise ValueError("saturation is only used with 'SAT' in classes; add it or drop saturation")
    median, std = _sky(data)
    if std <= 0:
        msg = "image has no background noise (sigma_U = 0); contaminate needs a realistic sky"
        raise ValueError(msg)
    if median <= 0 and {"DCL", "DP", "OV"} & set(names):
        msg = (
            f"image sky median is {median:g}, but DCL, DP and OV values are drawn below a "
            "positive sky level (MaxiMask 2.1.4); use a frame that is not sky-subtracted "
            "(or add its sky back), or drop DCL, DP and OV from classes"
        )
        raise ValueError(msg)
    if saturation is not None:
        saturation = finite_number(saturation, "saturation")
        if saturation <= median:
            msg = (
                f"saturation ({saturation:g}) must be above the image's sky median "
                f"({median:g}); give a higher level or None"
            )
            raise ValueError(msg)
    parent = np.random.default_rng(seed)
    streams = dict(
        zip(
            _CONTAMINATE_CLASSES,
            (
                np.random.default_rng(s)
                for s in parent.integers(2**63, size=len(_CONTAMINATE_CLASSES))
            ),
            strict=True,
        )
    )
    ny, nx = data.shape
    work = np.array(data, dtype=np.float64, copy=True)
    truth = {name: np.zeros(data.shape, dtype=bool) for name in names}

    strip = None
    if "OV" in names:
        rng = streams["OV"]
        widest = min(50, max(1, nx // 4))
        width = int(rng.integers(min(10, widest), widest + 1))
        strip = slice(0, width) if rng.integers(2) == 0 else slice(nx - width, nx)

    if "SAT" in names:
        rng = streams["SAT"]
        if saturation is None:
            saturation = median + rng.uniform(300.0, 1000.0) * std
        columns = (0.0, float(nx))
        if strip is not None:
            columns = (
                (float(strip.stop), float(nx)) if strip.start == 0 else (0.0, float(strip.start))
            )
        _saturated_stars(rng, work, saturation, median, std, columns)

    if "TRL" in names:
        profile = _trail(streams["TRL"], data.shape, std)
        work += profile
        truth["TRL"] = ndimage.binary_dilation(profile > 0.5 * std, structure=np.ones((7, 7), bool))

    for name, hot in (("HCL", True), ("DCL", False)):
        if name not in names:
            continue
        rng = streams[name]
        for box in _columns_and_lines(rng, data.shape):
            size = work[box].shape
            if hot:
                work[box] += _hot_values(rng, size, std)
            else:
                work[box] = _dead_values(rng, size, median, std)
            truth[name][box] = True
        if not hot:
            for mask in _clusters(rng, data.shape):
                work[mask] = _dead_values(rng, int(mask.sum()), median, std)
                truth[name] |= mask

    for name, hot in (("HP", True), ("DP", False)):
        if name not in names:
            continue
        rng = streams[name]
        flat = work.reshape(-1)
        marks = truth[name].reshape(-1)
        for index in _punctual(rng, data.shape):
            if hot:
                flat[index] += _hot_values(rng, None, std)
            else:
                flat[index] = _dead_values(rng, None, median, std)
            marks[index] = True
        if hot:
            for mask in _clusters(rng, data.shape):
                work[mask] += _hot_values(rng, int(mask.sum()), std)
                truth[name] |= mask

    if strip is not None:
        rng = streams["OV"]
        level = _dead_values(rng, (ny, strip.stop - strip.start), median, std)
        read_noise = rng.uniform(0.3, 1.0) * std
        work[:, strip] = level + rng.normal(0.0, read_noise, level.shape)
        for mask in truth.values():
            mask[:, strip] = False
        truth["OV"][:, strip] = True

    if "SAT" in names:
        saturated = work >= saturation
        work[saturated] = saturation
        truth["SAT"] = saturated
    return work.astype(np.float32), truth
