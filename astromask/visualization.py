"""Pictures of contaminant maps: a frame beside its colour-coded classes.

`plot_flags` draws a flagged `~astropy.nddata.CCDData` as in the MaxiMask
paper's figure 8 (Paillassa, Bertin & Bouy 2020, A&A 634, A48): the image
with a robust (z-scale) stretch on the left, and on the right each pixel in
the colour of its class, with a legend.  `class_image` computes that colour
map as an RGBA array without drawing anything.  The colours are those of
`astromask.classes` (``ClassDef.color``).

matplotlib is needed only to draw (``python -m pip install matplotlib``); it
is imported when `plot_flags` is called, never by ``import astromask``.
"""

import numpy as np
from scipy import ndimage

from astromask import classes as class_table

__all__ = ["class_image", "plot_flags"]

__doctest_requires__ = {("plot_flags",): ["matplotlib"]}

#: Classes drawn larger than they are (``grow``): single pixels, as in the
#: paper's figure 8, and one-pixel-wide columns and lines, which vanish when a
#: frame is shown at less than full resolution.
GROWN_CLASSES = ("HCL", "DCL", "HP", "DP")

_MULTIPLE = ("priority", "black")


def _rgba(color, alpha=1.0):
    """``#rrggbb`` -> (r, g, b, alpha) floats in [0, 1]."""
    color = color.lstrip("#")
    return tuple(int(color[k : k + 2], 16) / 255 for k in (0, 2, 4)) + (alpha,)


def _flag_array(flags, name="flags"):
    flags = np.asarray(flags)
    if flags.ndim != 2:
        msg = f"{name}: expected a 2-D flag map, got {flags.ndim} dimensions; plot one plane"
        raise ValueError(msg)
    # The rule of astromask.decode_flags: whole-valued float maps are accepted.
    return class_table.integer_flags(flags, name).astype(np.int64)


def _selected(classes):
    """ClassDefs to draw, in priority (table) order; BG carries no bit."""
    index = np.sort(class_table.class_index(classes))
    return [class_table.CLASSES[i] for i in index if class_table.CLASSES[i].bit is not None]


def class_image(flags, *, classes=None, multiple="priority", grow=1, background=True):
    """Colour each pixel of a flag map by its class.

    Parameters
    ----------
    flags : array-like of int
        2-D bit-coded flag map, as ``CCDData.flags`` after `astromask.flag`.

    classes : sequence of str, optional
        Classes to draw (names of `astromask.classes.CLASS_NAMES`); default
        all.  Bits of other classes are ignored.

    multiple : {"priority", "black"}, optional
        Colour of a pixel of several drawn classes: ``"priority"`` (default)
        gives it the colour of the first of them in the class table (cosmic
        rays first, bright background last, so defects show over sources);
        ``"black"`` paints it `astromask.classes.MULTIPLE_COLOR`, as the
        paper's figure 8.

    grow : int, optional
        Draw hot and dead pixels, columns and lines (`GROWN_CLASSES`)
        dilated by ``(2 grow + 1)``-pixel squares so they can be seen (the
        paper draws its pixels 3x3, ``grow=1``, the default); 0 draws every
        pixel as flagged.

    background : bool, optional
        Paint pixels of no drawn class in the background (BG) colour; if
        `False` they are transparent.

    Returns
    -------
    rgba : `numpy.ndarray`
        ``(ny, nx, 4)`` float32 colours in [0, 1].
    names : list of str
        The classes that appear in ``rgba``, in table order, then ``"BG"``
        if background pixels are painted and ``"several"`` if
        ``multiple="black"`` painted any pixel black: the legend's entries.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.visualization import class_image
    >>> flags = np.array([[1, 0], [4096, 4097]])   # CR, nothing, BBG, CR+BBG
    >>> rgba, names = class_image(flags, grow=0)
    >>> names
    ['CR', 'BBG', 'BG']
    >>> bool((rgba[1, 1] == rgba[0, 0]).all())   # CR drawn over BBG
    True
    """
    flags = _flag_array(flags)
    if multiple not in _MULTIPLE:
        msg = f"multiple: expected one of {', '.join(_MULTIPLE)}, got {multiple!r}"
        raise ValueError(msg)
    if isinstance(grow, bool) or not isinstance(grow, (int, np.integer)) or grow < 0:
        msg = f"grow: expected an integer >= 0, got {grow!r}"
        raise ValueError(msg)
    selected = _selected(classes)
    maps = []
    for cls in selected:
        on = (flags & cls.bit) != 0
        if grow and cls.name in GROWN_CLASSES and on.any():
            on = ndimage.binary_dilation(on, np.ones((2 * grow + 1,) * 2, dtype=bool))
        maps.append(on)

    rgba = np.zeros(flags.shape + (4,), dtype=np.float32)
    painted = np.zeros(flags.shape, dtype=bool)
    count = np.zeros(flags.shape, dtype=np.int16)
    names = []
    for cls, on in zip(selected, maps):
        count += on
        fresh = on & ~painted
        if fresh.any():
            rgba[fresh] = _rgba(cls.color)
            painted |= fresh
        if on.any():
            names.append(cls.name)
    if multiple == "black":
        several = count > 1
        if several.any():
            rgba[several] = _rgba(class_table.MULTIPLE_COLOR)
            # a class present only under "several" pixels is not visible on its own
            names = [cls.name for cls, on in zip(selected, maps) if (on & ~several).any()]
    if background and not painted.all():
        rgba[~painted] = _rgba(class_table.CLASSES[class_table.CLASS_NAMES.index("BG")].color)
        names.append("BG")
    if multiple == "black" and (count > 1).any():
        names.append("several")
    return rgba, names


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        msg = "plot_flags needs matplotlib: python -m pip install 'astromask[plot]' (or matplotlib)"
        raise ImportError(msg) from None
    return plt


def _image_and_flags(ccd, flags):
    data = getattr(ccd, "data", ccd)
    data = np.ma.getdata(data)
    data = np.asarray(data, dtype=np.float64)
    if flags is None:
        flags = getattr(ccd, "flags", None)
        if flags is None:
            msg = (
                "ccd has no flags: flag it first (ccd = astromask.flag(ccd)), or "
                "give the flag map as flags="
            )
            raise ValueError(msg)
    flags = _flag_array(flags)
    if data.ndim != 2:
        msg = f"ccd: expected a 2-D image, got {data.ndim} dimensions; plot one plane"
        raise ValueError(msg)
    if data.shape != flags.shape:
        msg = f"flags: shape {flags.shape} differs from the image's {data.shape}"
        raise ValueError(msg)
    return data, flags


def _limits(data, interval):
    from astropy.visualization import ZScaleInterval

    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = (interval or ZScaleInterval()).get_limits(finite)
    if not vmax > vmin:
        vmax = vmin + 1.0
    return vmin, vmax


def plot_flags(
    ccd,
    flags=None,
    *,
    classes=None,
    multiple="priority",
    grow=1,
    background=True,
    legend=True,
    interval=None,
    cmap="gray",
    titles=("image", "classes"),
    axes=None,
    fig=None,
    figsize=None,
):
    """Draw a frame beside its colour-coded contaminant classes.

    The image is shown with a z-scale stretch
    (`~astropy.visualization.ZScaleInterval`), and the class map with the
    colours of `astromask.classes` (those of the MaxiMask paper's figure 8)
    and a legend naming the classes present.  The input is not modified.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData` or array-like
        A 2-D frame, usually the result of `astromask.flag`.  Masked pixels
        are drawn like the others.

    flags : array-like of int, optional
        The bit-coded flag map; default ``ccd.flags``.  Use
        `astromask.classes.encode_flags` to draw boolean maps (a truth, a
        cosmic-ray mask).

    classes : sequence of str, optional
        Classes to draw; default all.

    multiple, grow, background
        As in `class_image`.

    legend : bool, optional
        Add a legend of the classes present beside the class map.

    interval : `astropy.visualization.BaseInterval`, optional
        Display limits of the image; default `~astropy.visualization.ZScaleInterval`.

    cmap : str, optional
        Colour map of the image.

    titles : pair of str, optional
        Titles of the two panels.

    axes : pair of `matplotlib.axes.Axes`, optional
        Axes for the image and the class map.  Default: two new axes in
        ``fig``.

    fig : `matplotlib.figure.Figure`, optional
        Figure to draw in when ``axes`` is not given; default a new
        ``matplotlib.pyplot`` figure (constrained layout).

    figsize : pair of float, optional
        Size of the new figure, in inches.

    Returns
    -------
    fig : `matplotlib.figure.Figure`
        Its ``axes[0]`` shows the image, ``axes[1]`` the classes.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from astropy.nddata import CCDData
    >>> from astromask.visualization import plot_flags
    >>> rng = np.random.default_rng(0)
    >>> flags = np.zeros((64, 64), dtype=np.uint16)
    >>> flags[10, 5:9] = 1       # a cosmic ray (CR)
    >>> flags[:, 40] = 2         # a hot column (HCL)
    >>> ccd = CCDData(rng.normal(100, 5, (64, 64)), unit="adu", flags=flags)
    >>> fig = plot_flags(ccd, fig=Figure())
    >>> [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    ['CR: cosmic rays', 'HCL: hot columns/lines', 'BG: background']

    After `astromask.flag` (which needs the weights)::

        ccd = astromask.flag(ccd)
        plot_flags(ccd)
    """
    data, flags = _image_and_flags(ccd, flags)
    rgba, names = class_image(
        flags, classes=classes, multiple=multiple, grow=grow, background=background
    )
    plt = None
    if axes is None:
        if fig is None:
            plt = _pyplot()
            fig = plt.figure(figsize=figsize or (10.5, 4.6), layout="constrained")
        else:
            _pyplot()  # a clear error if matplotlib is missing
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
    else:
        _pyplot()
        if len(axes) != 2:
            msg = f"axes: expected two Axes (image, classes), got {len(axes)}"
            raise ValueError(msg)
    ax_image, ax_map = axes
    fig = ax_image.figure

    vmin, vmax = _limits(data, interval)
    ax_image.imshow(data, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax_map.imshow(rgba, origin="lower", interpolation="nearest")
    if titles:
        ax_image.set_title(titles[0])
        ax_map.set_title(titles[1])

    if legend and names:
        from matplotlib.patches import Patch

        by_name = {c.name: c for c in class_table.CLASSES}
        handles = []
        for name in names:
            if name == "several":
                handles.append(
                    Patch(
                        facecolor=class_table.MULTIPLE_COLOR,
                        edgecolor="0.5",
                        label="several classes",
                    )
                )
            else:
                cls = by_name[name]
                handles.append(
                    Patch(
                        facecolor=cls.color, edgecolor="0.5", label=f"{cls.name}: {cls.description}"
                    )
                )
        ax_map.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0,
            fontsize="small",
            frameon=False,
        )
    return fig
