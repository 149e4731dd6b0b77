"""A simulated CCD frame with known contaminants, for demos, docs and tests.

The frame needs no download: sky, read noise and Poisson noise, Gaussian
stars (some saturated), cosmic-ray hits and tracks, a hot column, hot pixels
and a satellite trail, each recorded in a truth map.
"""

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

__all__ = ["simulated_frame"]


def simulated_frame(
    shape=(1024, 1024), *, seed=0, sky=800.0, bias=300.0, gain=1.5, read_noise=5.0
):
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
        image[y0:y1, x0:x1] += flux / (2 * np.pi * sigma**2) * np.exp(
            -(dx**2 + dy**2) / (2 * sigma**2)
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
