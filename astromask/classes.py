"""The MaxiMask class table: names, bit codes, priors and thresholds.

This module is the single source of every per-class constant in astromask.
Docstrings, command-line choices, FITS header cards and the flag decoder all
read from `CLASSES`; nothing else in the package lists the classes again.

The order is the order of the network's 14 output channels.  Class ``k`` is
coded by bit ``2**k`` in the integer flag map, except the background class
(``BG``), which carries no bit: a pixel with no bit set is background.

<class_table>

*Colour* is the class's colour in maps drawn by
`astromask.visualization.plot_flags`: the colours of the MaxiMask paper's
figure 8 (red CR, dark green HCL, dark blue DCL, green HP, blue DP, yellow P,
orange TRL, grey FR, light grey NEB, purple SAT, light purple SP, brown OV,
pink BBG, dark grey BG; `MULTIPLE_COLOR`, black, marks pixels of several
classes when they are drawn so).

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
from astropy.nddata.bitmask import bitfield_to_boolean_mask, extend_bit_flag_map

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "ClassDef",
    "DEFAULT_MASK_CLASSES",
    "FLAG_MAP",
    "MULTIPLE_COLOR",
    "class_index",
    "decode_flags",
    "default_priors",
    "encode_flags",
    "default_thresholds",
    "DQ_CONVENTIONS",
    "dq_map",
    "flag_bits",
    "integer_flags",
    "to_dq",
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
    color : str
        Colour of the class in plots (``#rrggbb``), as in the MaxiMask
        paper's figure 8.

    Examples
    --------
    >>> from astromask.classes import CLASSES
    >>> cr = CLASSES[0]
    >>> cr.name, cr.bit, cr.threshold, cr.color, cr.threshold_key
    ('CR', 1, 0.43, '#e41a1c', 'AMT_CR')
    """

    name: str
    description: str
    bit: int | None
    training_prior: float
    prior: float
    threshold: float
    masked: bool
    color: str = "#000000"

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
    # name, description, training prior, prior, threshold, masked, colour (paper fig. 8)
    ("CR", "cosmic rays", 0.010, 0.0005, 0.43, True, "#e41a1c"),  # red
    ("HCL", "hot columns/lines", 0.009, 0.00001, 0.60, True, "#006400"),  # dark green
    ("DCL", "dead columns/lines/clusters", 0.036, 0.0001, 0.74, True, "#00008b"),  # dark blue
    ("HP", "hot pixels", 0.001, 0.000001, 0.43, True, "#32cd32"),  # green
    ("DP", "dead pixels", 0.001, 0.000001, 0.99, True, "#1e64ff"),  # blue
    ("P", "persistence", 0.010, 0.001, 0.65, True, "#ffd700"),  # yellow
    ("TRL", "satellite trails", 0.103, 0.001, 0.28, True, "#ff8c00"),  # orange
    ("FR", "residual fringes", 0.126, 0.001, 0.76, False, "#808080"),  # grey
    ("NEB", "nebulosities", 0.171, 0.001, 0.56, False, "#c8c8c8"),  # light grey
    ("SAT", "saturated pixels", 0.002, 0.001, 0.81, True, "#800080"),  # purple
    ("SP", "diffraction spikes", 0.044, 0.005, 0.54, True, "#c8a0ff"),  # light purple
    ("OV", "overscan", 0.118, 0.005, 0.55, True, "#8b4513"),  # brown
    ("BBG", "bright background (sources)", 0.126, 0.1, 0.44, False, "#ff96c8"),  # pink
    ("BG", "background", 0.395, 0.9, 0.27, False, "#404040"),  # dark grey
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
        color=color,
    )
    for index, (name, description, training_prior, prior, threshold, masked, color) in (
        enumerate(_TABLE)
    )
)
"""tuple of `ClassDef`: the 14 classes in network output order."""

CLASS_NAMES = tuple(c.name for c in CLASSES)
"""tuple of str: class names in network output order."""

DEFAULT_MASK_CLASSES = tuple(c.name for c in CLASSES if c.masked)
"""tuple of str: classes that `astromask.flag` masks by default."""

FLAG_MAP = extend_bit_flag_map("AstromaskFlags", **{c.name: c.bit for c in CLASSES if c.bit})
"""`~astropy.nddata.bitmask.BitFlagNameMap` of the bits of `astromask.flag`'s
``flags``: astropy's bit-mask tools read class names with it.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata.bitmask import bitfield_to_boolean_mask
>>> from astromask.classes import FLAG_MAP
>>> FLAG_MAP.CR, FLAG_MAP.SAT
(1, 512)
>>> flags = np.array([0, 1, 512, 8], dtype=np.uint16)
>>> bitfield_to_boolean_mask(
...     flags, "~CR,SAT", flag_name_map=FLAG_MAP, good_mask_value=False
... )
array([False,  True,  True, False])
"""

MULTIPLE_COLOR = "#000000"
"""str: colour of pixels that belong to several classes (black, as in the paper)."""


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

    Examples
    --------
    >>> from astromask.classes import class_index
    >>> class_index(["sat", "CR"])
    array([9, 0])
    """
    if names is None:
        return np.arange(len(CLASSES))
    if isinstance(names, str):
        names = [names]
    index = []
    for name in names:
        key = str(name).upper()
        if key not in CLASS_NAMES:
            msg = f"{argname}: unknown class {name!r}; choose among {', '.join(CLASS_NAMES)}"
            raise ValueError(msg)
        index.append(CLASS_NAMES.index(key))
    return np.array(index, dtype=int)


def training_priors():
    """Return the training-set class priors as a float32 array of 14.

    Examples
    --------
    >>> from astromask.classes import CLASS_NAMES, training_priors
    >>> float(training_priors()[CLASS_NAMES.index("CR")])
    0.009999999776482582
    """
    return np.array([c.training_prior for c in CLASSES], dtype=np.float32)


def default_priors():
    """Return upstream's default observing priors as a float32 array of 14.

    Examples
    --------
    >>> from astromask.classes import default_priors
    >>> default_priors().shape
    (14,)
    """
    return np.array([c.prior for c in CLASSES], dtype=np.float32)


def default_thresholds():
    """Return upstream's default thresholds as a float32 array of 14.

    Examples
    --------
    >>> from astromask.classes import CLASS_NAMES, default_thresholds
    >>> print(f"{default_thresholds()[CLASS_NAMES.index('CR')]:.2f}")
    0.43
    """
    return np.array([c.threshold for c in CLASSES], dtype=np.float32)


def flag_bits():
    """Return the bit value of each class as a uint16 array (0 for BG).

    Examples
    --------
    >>> from astromask.classes import flag_bits
    >>> flag_bits()[:4], int(flag_bits()[-1])
    (array([1, 2, 4, 8], dtype=uint16), 0)
    """
    return np.array([c.bit or 0 for c in CLASSES], dtype=np.uint16)


def integer_flags(flags, name="flags"):
    """``flags`` as an integer array; whole-valued float maps (a flag map read
    back through a float FITS column or image) are converted, others refused."""
    try:
        flags = np.asarray(flags)
    except (TypeError, ValueError):  # ragged sequences
        flags = np.asarray(None)
    if flags.dtype.kind in "iub":
        return flags
    if flags.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(flags).all() and (flags == np.round(flags)).all()
        if whole and (flags >= 0).all() and (flags < 2**63).all():
            return flags.astype(np.int64)
    msg = (
        f"{name}: expected an integer flag map (as astromask.flag makes), got dtype "
        f"{flags.dtype} with values that are not whole numbers; pass the FLAGS "
        "extension as read from the file, or convert it with .astype(int)"
    )
    raise TypeError(msg)


def decode_flags(flags, name):
    """Return the boolean map of one class, or of several, from a bit-coded flag map.

    Parameters
    ----------
    flags : array-like of int
        Flag map as made by `astromask.flag`.
    name : str or sequence of str
        Class name, for example ``"CR"``, or several, ``("CR", "SAT")``: the
        pixels of any of them.  ``"BG"`` gives the pixels where no bit is
        set.

    Returns
    -------
    mask : `numpy.ndarray` of bool
        A `numpy.ma.MaskedArray` with the same mask when ``flags`` is one.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.classes import decode_flags
    >>> flags = np.array([[0, 1], [8, 9]], dtype=np.uint16)   # -, CR, HP, CR+HP
    >>> decode_flags(flags, "CR")
    array([[False,  True],
           [False,  True]])
    >>> decode_flags(flags, ("CR", "HP"))
    array([[False,  True],
           [ True,  True]])
    >>> decode_flags(flags, "BG")
    array([[ True, False],
           [False, False]])
    """
    names = [name] if isinstance(name, str) else name
    try:
        names = list(names)
    except TypeError:
        names = []
    if not names or not all(isinstance(n, str) for n in names):
        msg = (
            f"name: expected a class name or a sequence of them (such as 'CR' or "
            f"('CR', 'SAT')), got {name!r}"
        )
        raise ValueError(msg)
    given_mask = np.ma.getmaskarray(flags) if isinstance(flags, np.ma.MaskedArray) else None
    flags = integer_flags(np.ma.getdata(flags) if given_mask is not None else flags)
    if flags.dtype == bool:  # bitfield_to_boolean_mask takes integers only
        flags = flags.astype(np.uint8)
    bits = [CLASSES[k].bit for k in class_index(names, argname="name")]
    found = np.zeros(flags.shape, bool)
    if None in bits:  # BG: no bit set
        found |= bitfield_to_boolean_mask(flags, ignore_flags=0, good_mask_value=True, dtype=bool)
    bits = [bit for bit in bits if bit is not None]
    if bits:
        found |= bitfield_to_boolean_mask(
            flags, ignore_flags=bits, flip_bits=True, good_mask_value=False, dtype=bool
        )
    if given_mask is not None:  # the masked pixels stay masked: their flags are unknown
        return np.ma.MaskedArray(found, mask=given_mask.copy())
    return found


def encode_flags(masks):
    """Return the bit-coded flag map of boolean class maps (`decode_flags` reversed).

    Parameters
    ----------
    masks : dict of str to array-like of bool
        Boolean map of each class, keyed by class name (case-insensitive),
        all of the same shape; for example the ``truth`` of
        `astromask.simulate.simulated_frame`.  ``"BG"`` carries no bit and
        adds nothing.

    Returns
    -------
    flags : `numpy.ndarray` of uint16
        Bit ``2**k`` set where class ``k`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.classes import decode_flags, encode_flags
    >>> cr = np.array([[True, False], [False, False]])
    >>> hp = np.array([[True, True], [False, False]])
    >>> flags = encode_flags({"CR": cr, "HP": hp})
    >>> flags
    array([[9, 8],
           [0, 0]], dtype=uint16)
    >>> bool((decode_flags(flags, "CR") == cr).all())
    True
    """
    if not isinstance(masks, dict) or not masks:
        msg = "masks: give a non-empty dict of class name to boolean map"
        raise TypeError(msg)
    flags = None
    for name, value in masks.items():
        (index,) = class_index(name, argname="masks")
        value = np.asarray(value)
        if value.dtype != bool:
            msg = f"masks[{name!r}]: expected a boolean map, got dtype {value.dtype}"
            raise TypeError(msg)
        if flags is None:
            flags = np.zeros(value.shape, dtype=np.uint16)
        elif value.shape != flags.shape:
            msg = f"masks[{name!r}]: shape {value.shape} differs from the other maps' {flags.shape}"
            raise ValueError(msg)
        bit = CLASSES[index].bit
        if bit is not None:
            flags[value] |= np.uint16(bit)
    return flags


def _table_rows():
    header = (
        "name",
        "index",
        "bit",
        "description",
        "training prior",
        "prior",
        "threshold",
        "masked",
        "colour",
    )
    rows = [
        (
            c.name,
            str(i),
            str(c.bit or "-"),
            c.description,
            str(c.training_prior),
            str(c.prior),
            str(c.threshold),
            "yes" if c.masked else "no",
            c.color,
        )
        for i, c in enumerate(CLASSES)
    ]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(f"{v:<{w}}" for v, w in zip(row, widths)).rstrip()

    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


if __doc__ is not None:
    __doc__ = __doc__.replace("<class_table>", _table_rows())


@dataclass(frozen=True)
class DQConvention:
    """A data-quality convention: its bits, and which astromask classes set them."""

    description: str
    dtype: str
    bits: dict  # name -> value
    classes: dict  # astromask class -> tuple of bit names


#: Data-quality conventions `to_dq` converts to.  Classes that describe the
#: sky rather than a defect (FR, NEB, BBG, BG) set no bit in any of them, nor
#: does a class the convention has no word for.
DQ_CONVENTIONS = {
    "jwst": DQConvention(
        "JWST pipeline DQ flags (jwst.datamodels.dqflags; uint32)",
        "uint32",
        {
            "DO_NOT_USE": 1,
            "SATURATED": 2,
            "JUMP_DET": 4,
            "PERSISTENCE": 32,
            "NON_SCIENCE": 512,
            "DEAD": 1024,
            "HOT": 2048,
            "OTHER_BAD_PIXEL": 2**30,
        },
        {
            "CR": ("DO_NOT_USE", "JUMP_DET"),
            "HCL": ("DO_NOT_USE", "HOT"),
            "DCL": ("DO_NOT_USE", "DEAD"),
            "HP": ("DO_NOT_USE", "HOT"),
            "DP": ("DO_NOT_USE", "DEAD"),
            "P": ("DO_NOT_USE", "PERSISTENCE"),
            "TRL": ("DO_NOT_USE", "OTHER_BAD_PIXEL"),
            "SAT": ("DO_NOT_USE", "SATURATED"),
            "SP": ("DO_NOT_USE", "OTHER_BAD_PIXEL"),
            "OV": ("DO_NOT_USE", "NON_SCIENCE"),
        },
    ),
    "hst": DQConvention(
        "HST ACS and WFC3/UVIS DQ flags (calacs, calwf3; uint16)",
        "uint16",
        {
            "DETECTORPROB": 4,
            "HOTPIX": 16,
            "SATPIXEL": 256,
            "DATAREJECT": 4096,
            "SATELLITE": 16384,
        },
        {
            "CR": ("DATAREJECT",),
            "HCL": ("HOTPIX",),
            "DCL": ("DETECTORPROB",),
            "HP": ("HOTPIX",),
            "DP": ("DETECTORPROB",),
            "TRL": ("SATELLITE",),
            "SAT": ("SATPIXEL",),
            "OV": ("DETECTORPROB",),
        },
    ),
    "rubin": DQConvention(
        "Rubin (LSST Science Pipelines) mask planes, afw's default numbering plus "
        "STREAK as plane 9; int32",
        "int32",
        {
            "BAD": 1,
            "SAT": 2,
            "CR": 8,
            "SUSPECT": 128,
            "NO_DATA": 256,
            "STREAK": 512,
        },
        {
            "CR": ("CR",),
            "HCL": ("BAD",),
            "DCL": ("BAD",),
            "HP": ("BAD",),
            "DP": ("BAD",),
            "P": ("SUSPECT",),
            "TRL": ("STREAK",),
            "SAT": ("SAT",),
            "SP": ("SUSPECT",),
            "OV": ("NO_DATA",),
        },
    ),
}


def _convention(convention):
    if not isinstance(convention, str) or convention.lower() not in DQ_CONVENTIONS:
        msg = f"convention: expected one of {', '.join(DQ_CONVENTIONS)}, got {convention!r}"
        raise ValueError(msg)
    return DQ_CONVENTIONS[convention.lower()]


def dq_map(convention):
    """Which bits of ``convention`` each astromask class sets: ``{class: value}``.

    Examples
    --------
    >>> from astromask.classes import dq_map
    >>> dq_map("rubin")["TRL"], dq_map("jwst")["CR"], dq_map("hst")["SAT"]
    (512, 5, 256)
    """
    table = _convention(convention)
    return {
        c.name: sum(table.bits[bit] for bit in table.classes.get(c.name, ()))
        for c in CLASSES
        if c.bit is not None
    }


def to_dq(flags, convention="jwst"):
    """Convert astromask's flags to a data-quality array of another convention.

    Parameters
    ----------
    flags : array-like of int
        Flag map as made by `astromask.flag` (``ccd.flags``).
    convention : {"jwst", "hst", "rubin"}, optional
        The convention: JWST's DQ flags, HST ACS and WFC3/UVIS DQ flags, or
        the Rubin mask planes (`DQ_CONVENTIONS`; the table in the docs gives
        every class's bits, and `dq_map` returns them).

    Returns
    -------
    dq : `numpy.ndarray`
        Of the convention's integer type, the OR of the bits of every class
        flagged at each pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.classes import to_dq
    >>> flags = np.array([0, 1, 512, 8 | 1], dtype=np.uint16)   # -, CR, SAT, HP + CR
    >>> to_dq(flags, "jwst")
    array([   0,    5,    3, 2053], dtype=uint32)
    >>> to_dq(flags, "rubin")
    array([0, 8, 2, 9], dtype=int32)
    """
    table = _convention(convention)
    flags = integer_flags(flags)
    out = np.zeros(np.shape(flags), dtype=table.dtype)
    for name, value in dq_map(convention).items():
        if value:
            out[decode_flags(flags, name)] |= np.array(value, dtype=table.dtype)
    return out
