"""The MaxiMask class table: names, bit codes, priors and thresholds.

This module is the single source of every per-class constant in astromask.
Docstrings, command-line choices, FITS header cards and the flag decoder all
read from `CLASSES`; nothing else in the package lists the classes again.

The order is the order of the network's 14 output channels.  Class ``k`` is
coded by bit ``2**k`` in the integer flag map, except the background class
(``BG``), which carries no bit: a pixel with no bit set is background.

<class_table>

*Training prior* is the class frequency in MaxiMask's training set; *prior*
and *threshold* are upstream's default observing priors
(``config/classes.priors``) and decision thresholds (``config/classes.thresh``)
from MaxiMask 1.4.1.  *Masked* tells whether `astromask.flag` puts the class
into ``CCDData.mask`` by default: fringes, nebulosity, bright background
(sources) and background describe the sky rather than defects, so they are
flagged but not masked.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "ClassDef",
    "DEFAULT_MASK_CLASSES",
    "class_index",
    "decode_flags",
    "default_priors",
    "default_thresholds",
    "flag_bits",
    "training_priors",
]


@dataclass(frozen=True)
class ClassDef:
    """One contaminant class of the MaxiMask network.

    Parameters
    ----------
    name : str
        Short name, also the FITS keyword stem (at most 3 characters).
    description : str
        Human-readable description.
    bit : int or None
        Bit value in the flag map (``2**index``), or `None` for the
        background class.
    training_prior : float
        Fraction of pixels of this class in the training set.
    prior : float
        Default observing prior (upstream ``classes.priors``).
    threshold : float
        Default decision threshold (upstream ``classes.thresh``).
    masked : bool
        Whether `astromask.flag` masks this class by default.
    """

    name: str
    description: str
    bit: int | None
    training_prior: float
    prior: float
    threshold: float
    masked: bool

    @property
    def prior_key(self):
        """FITS keyword recording the prior used for this class."""
        return f"AMP_{self.name}"

    @property
    def threshold_key(self):
        """FITS keyword recording the threshold used for this class."""
        return f"AMT_{self.name}"

    @property
    def bit_key(self):
        """FITS keyword recording this class's bit value in the flag map."""
        return f"AMB_{self.name}"


_TABLE = [
    # name, description, training prior, prior, threshold, masked
    ("CR", "cosmic rays", 0.010, 0.0005, 0.43, True),
    ("HCL", "hot columns/lines", 0.009, 0.00001, 0.60, True),
    ("DCL", "dead columns/lines/clusters", 0.036, 0.0001, 0.74, True),
    ("HP", "hot pixels", 0.001, 0.000001, 0.43, True),
    ("DP", "dead pixels", 0.001, 0.000001, 0.99, True),
    ("P", "persistence", 0.010, 0.001, 0.65, True),
    ("TRL", "satellite trails", 0.103, 0.001, 0.28, True),
    ("FR", "residual fringes", 0.126, 0.001, 0.76, False),
    ("NEB", "nebulosities", 0.171, 0.001, 0.56, False),
    ("SAT", "saturated pixels", 0.002, 0.001, 0.81, True),
    ("SP", "diffraction spikes", 0.044, 0.005, 0.54, True),
    ("OV", "overscan", 0.118, 0.005, 0.55, True),
    ("BBG", "bright background (sources)", 0.126, 0.1, 0.44, False),
    ("BG", "background", 0.395, 0.9, 0.27, False),
]

CLASSES = tuple(
    ClassDef(
        name=name,
        description=description,
        bit=None if name == "BG" else 2**index,
        training_prior=training_prior,
        prior=prior,
        threshold=threshold,
        masked=masked,
    )
    for index, (name, description, training_prior, prior, threshold, masked) in (
        enumerate(_TABLE)
    )
)
"""tuple of `ClassDef`: the 14 classes in network output order."""

CLASS_NAMES = tuple(c.name for c in CLASSES)
"""tuple of str: class names in network output order."""

DEFAULT_MASK_CLASSES = tuple(c.name for c in CLASSES if c.masked)
"""tuple of str: classes that `astromask.flag` masks by default."""


def class_index(names, *, argname="classes"):
    """Return the channel indices of class names, in the order given.

    Parameters
    ----------
    names : str or iterable of str or None
        Class names (case-insensitive); `None` means all classes.
    argname : str, optional
        Argument name used in error messages.

    Returns
    -------
    index : `numpy.ndarray` of int
    """
    if names is None:
        return np.arange(len(CLASSES))
    if isinstance(names, str):
        names = [names]
    index = []
    for name in names:
        key = str(name).upper()
        if key not in CLASS_NAMES:
            msg = (
                f"{argname}: unknown class {name!r}; choose among "
                f"{', '.join(CLASS_NAMES)}"
            )
            raise ValueError(msg)
        index.append(CLASS_NAMES.index(key))
    return np.array(index, dtype=int)


def training_priors():
    """Return the training-set class priors as a float32 array of 14."""
    return np.array([c.training_prior for c in CLASSES], dtype=np.float32)


def default_priors():
    """Return upstream's default observing priors as a float32 array of 14."""
    return np.array([c.prior for c in CLASSES], dtype=np.float32)


def default_thresholds():
    """Return upstream's default thresholds as a float32 array of 14."""
    return np.array([c.threshold for c in CLASSES], dtype=np.float32)


def flag_bits():
    """Return the bit value of each class as a uint16 array (0 for BG)."""
    return np.array([c.bit or 0 for c in CLASSES], dtype=np.uint16)


def decode_flags(flags, name):
    """Return the boolean map of one class from a bit-coded flag map.

    Parameters
    ----------
    flags : array-like of int
        Flag map as made by `astromask.flag`.
    name : str
        Class name, for example ``"CR"``.  ``"BG"`` gives the pixels where no
        bit is set.

    Returns
    -------
    mask : `numpy.ndarray` of bool
    """
    flags = np.asarray(flags)
    (index,) = class_index(name, argname="name")
    bit = CLASSES[index].bit
    if bit is None:
        return flags == 0
    return (flags & bit) != 0


def _table_rows():
    header = ("name", "index", "bit", "description", "training prior", "prior",
              "threshold", "masked")
    rows = [
        (c.name, str(i), str(c.bit or "-"), c.description, str(c.training_prior),
         str(c.prior), str(c.threshold), "yes" if c.masked else "no")
        for i, c in enumerate(CLASSES)
    ]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(f"{v:<{w}}" for v, w in zip(row, widths)).rstrip()

    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


if __doc__ is not None:
    __doc__ = __doc__.replace("<class_table>", _table_rows())
