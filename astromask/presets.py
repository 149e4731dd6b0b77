"""The model table: every pretrained network astromask knows, in one place.

Each entry of `MODELS` is a `Preset`: the network's name, its family (which
builder and converter `astromask.zoo` uses), its task, its pinned weight
files (`WeightFile`: repository, commit, path, SHA-256), its architecture and
input convention (a `DeepCRModel` or `CosmicConnModel` spec: unit, scale,
sky), its default threshold, its licence and what it was trained on.

Everything else derives from this table: the download registry
(`astromask.data.registry`), the model lists of the command line
(``--detector``, ``--inpaint``, ``--start``), the model tables of the
documentation (`model_table_rst`), and the model lookups of
`astromask.zoo`.  Adding a network is one entry here plus, for a new family,
its builder (`astromask.models`) and converter (`astromask.convert`),
registered in `astromask.zoo.FAMILIES`.

This module is plain data: it imports nothing from astromask (so
``tools/weights_mirror.py`` can load it alone), no numpy and no Keras.
"""

import math
import os
from dataclasses import dataclass, replace

__all__ = [
    "FAMILIES",
    "MODELS",
    "TASKS",
    "CosmicConnModel",
    "DeepCRModel",
    "EnsembleModel",
    "Preset",
    "WeightFile",
    "cosmic_ray_models",
    "ensembles",
    "inpainting_models",
    "model_spec",
    "model_table_rst",
    "preset",
    "threshold_for_fpr",
]

_GITHUB_URL = "https://github.com/{owner}/{repo}/raw/{commit}/{path}"


@dataclass(frozen=True)
class WeightFile:
    """One pinned weight file.

    Parameters
    ----------
    owner, repo, commit, path : str
        Where the file lives in its upstream repository.
    sha256 : str
        Expected SHA-256 of the file's content.
    size : int
        Expected size in bytes (informative; the hash is what is checked).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from astromask.presets import MODELS
    >>> (entry,) = MODELS["deepcr/ACS-WFC"].files
    >>> entry.owner, entry.repo, entry.path
    ('profjsb', 'deepCR', 'learned_models/mask/ACS-WFC.pth')
    >>> entry.key == f"{entry.owner}/{entry.repo}/{entry.commit}/{entry.path}"
    True
    >>> with mock.patch.dict(os.environ, {"ASTROMASK_WEIGHTS_URL": "https://mirror.example"}):
    ...     print(entry.url == f"https://mirror.example/{entry.key}")
    True
    """

    owner: str
    repo: str
    commit: str
    path: str
    sha256: str
    size: int

    @property
    def key(self):
        """``owner/repo/commit/path``: the file's name in the cache and mirrors."""
        return f"{self.owner}/{self.repo}/{self.commit}/{self.path}"

    @property
    def url(self):
        """Where the file is downloaded from, honouring ``ASTROMASK_WEIGHTS_URL``."""
        base = os.environ.get("ASTROMASK_WEIGHTS_URL", "").strip()
        if base:
            return f"{base.rstrip('/')}/{self.key}"
        return _GITHUB_URL.format(
            owner=self.owner, repo=self.repo, commit=self.commit, path=self.path
        )


@dataclass(frozen=True)
class DeepCRModel:
    """A pretrained deepCR network and how its input is scaled.

    Parameters
    ----------
    kind : {"mask", "inpaint"}
        Cosmic-ray probability network, or inpainting network.
    depth, hidden : int
        UNet levels and first-level channels (the ``3-32`` in
        ``ACS-WFC-F606W-3-32``).
    scale : float
        deepCR divides the image (in electrons) by this before the network
        and multiplies inpainted values back.
    standardize : bool
        Subtract the image mean and divide by its standard deviation after
        scaling (deepCR does this for ``WFC3-UVIS`` only).
    unit : {"electron", "adu"}
        The unit of the images the network was trained on.
    description : str
        What the network was trained on.
    balanced_prior : float
        0 for a network trained with plain cross-entropy.  For one trained
        with class-balanced weights (`astromask.training`), the cosmic-ray
        pixel fraction of its training data: its output is mapped back to
        probabilities with `astromask.priors.balanced_probability`.

    Examples
    --------
    >>> from astromask.presets import DeepCRModel, model_spec
    >>> spec = model_spec("deepcr/ACS-WFC-F606W-2-4")
    >>> spec.kind, spec.depth, spec.hidden, spec.scale, spec.unit
    ('mask', 2, 4, 100.0, 'electron')
    >>> DeepCRModel("mask", 2, 8, 1.0, False, "adu", "my camera").balanced_prior
    0.0
    """

    kind: str
    depth: int
    hidden: int
    scale: float
    standardize: bool
    unit: str
    description: str
    balanced_prior: float = 0.0


@dataclass(frozen=True)
class CosmicConnModel:
    """A pretrained network of Cosmic-CoNN's architecture and its input.

    Cosmic-CoNN's own networks (Xu et al. 2023) and the DECam-trained
    networks of Bhavanam et al., which use the same UNet, some with
    attention gates.

    Parameters
    ----------
    norm : {"group", "batch"}
        Normalisation of the double convolutions.
    unit : {"electron", "adu"}
        The unit of the images the network was trained on.
    description : str
        What the network was trained on.
    sky : {"tile median", "kept"}
        ``"tile median"``: each tile has its median subtracted before the
        network (the lower of the two middle values, as ``torch.median``),
        as cosmic-conn does.  ``"kept"``: the data go in with their sky, as
        the network was trained.
    affine : bool
        Whether the group norms have learnt scale and shift.
    attention : bool
        Attention gates on the skip connections.
    prefix : str
        Prefix of the state-dict keys.
    kind : str
        Always ``"mask"``: a cosmic-ray probability network.
    hidden : int
        Channels of the first level (32 in all the published networks).
    balanced_prior : float
        As for `DeepCRModel`.

    Examples
    --------
    >>> from astromask.presets import CosmicConnModel, model_spec
    >>> spec = model_spec("decam-attention/Att_Cosmic-CoNN")
    >>> spec.norm, spec.unit, spec.sky, spec.affine, spec.attention, spec.prefix
    ('group', 'adu', 'kept', False, True, 'module.')
    >>> CosmicConnModel("group", "electron", "a smaller network", hidden=16).sky
    'tile median'
    """

    norm: str
    unit: str
    description: str
    sky: str = "tile median"
    affine: bool = True
    attention: bool = False
    prefix: str = ""
    kind: str = "mask"
    hidden: int = 32
    balanced_prior: float = 0.0


@dataclass(frozen=True)
class EnsembleModel:
    """A cosmic-ray detector that combines networks of the model table.

    Each member runs on the frame in its own way (its own unit, scaling and
    tiling); the members' probabilities are combined as the mean of their
    logits, weighted by ``weights``, and mapped back to a probability.

    Parameters
    ----------
    members : tuple of str
        Names of cosmic-ray networks of `MODELS` (not ensembles).
    description : str
        What the combination is for.
    weights : tuple of float, optional
        Weight of each member's logit (default equal weights).
    unit : str
        ``"electron"``: the unit the ensemble takes; members in ADU would
        need the gain, so all members of astromask's ensembles take electrons.
    kind : str
        Always ``"mask"``.
    sky : str
        ``"each member's"``: every member handles the sky its own way.
    pad : int
        Pixels of mirrored frame added on every side before the members
        run, and cut off after, so that pixels at the frame's borders see
        the same kind of surroundings as interior pixels.

    Examples
    --------
    >>> from astromask.presets import model_spec
    >>> spec = model_spec("astromask/ground")
    >>> spec.members
    ('deepcr/ACS-WFC', 'deepcr/ACS-WFC-F606W-2-4')
    >>> spec.unit, spec.kind
    ('electron', 'mask')
    """

    members: tuple
    description: str
    weights: tuple = None
    unit: str = "electron"
    kind: str = "mask"
    sky: str = "each member's"
    pad: int = 16


FAMILIES = ("maximask", "maxitrack", "deepcr", "cosmic-conn", "ensemble")
"""tuple of str: the network families.  Each family but ``"ensemble"`` (a
combination of networks of the other families) has a builder and a converter
in `astromask.zoo`."""

TASKS = {
    "flag": "MaxiMask's 14 contaminant classes",
    "track": "MaxiTrack's tracking-error score",
    "mask": "cosmic-ray probability",
    "inpaint": "inpainting of masked pixels",
}
"""dict of str to str: what a network does, by ``Preset.task``."""


@dataclass(frozen=True)
class Preset:
    """One pretrained network of the model table.

    Parameters
    ----------
    name : str
        The name users give (``model=``, ``--detector``), ``family/name``
        for the cosmic-ray and inpainting networks.
    family : str
        One of `FAMILIES`: which builder and converter make it.
    task : str
        One of `TASKS`.
    files : tuple of `WeightFile`
        The pinned weight files, the main one last (its SHA-256 is recorded
        in FITS headers).
    licence : str
        The licence of the weights (SPDX identifier where there is one).
    description : str
        What the network was trained on.
    spec : `DeepCRModel` or `CosmicConnModel`, optional
        Architecture and input convention of the UNets (`None` for MaxiMask
        and MaxiTrack, which take the normalised image of
        `astromask.preprocess.normalize`).
    threshold : float, optional
        Default probability threshold of a cosmic-ray network.
    citation : str, optional
        The paper to cite.
    calibration : tuple of (float, float), optional
        ``(false-positive rate, threshold)`` pairs of a cosmic-ray network,
        measured on astromask's own benchmark (``benchmarks/bench_cr_detectors.py``,
        tuning split); `threshold_for_fpr` interpolates them, and
        ``threshold="fpr:1e-4"`` of `astromask.cosmicray_deepcr` uses them.
        Rates at which the network's probabilities saturate in float32 are
        left out.

    Examples
    --------
    >>> from astromask.presets import MODELS
    >>> entry = MODELS["deepcr/decam"]
    >>> entry.family, entry.task, entry.unit, entry.threshold, entry.licence
    ('deepcr', 'mask', 'adu', 0.5, 'BSD-3-Clause')
    """

    name: str
    family: str
    task: str
    files: tuple
    licence: str
    description: str
    spec: object = None
    threshold: float = None
    citation: str = ""
    calibration: tuple = ()

    def __post_init__(self):
        if self.family not in FAMILIES:
            msg = f"family: {self.family!r} is not one of {', '.join(FAMILIES)}"
            raise ValueError(msg)
        if self.task not in TASKS:
            msg = f"task: {self.task!r} is not one of {', '.join(TASKS)}"
            raise ValueError(msg)
        if not self.files or not all(isinstance(f, WeightFile) for f in self.files):
            msg = f"files: {self.name} needs a tuple of WeightFile"
            raise ValueError(msg)

    @property
    def unit(self):
        """The unit of the images the network takes (``"normalised"`` for MaxiMask/MaxiTrack)."""
        return self.spec.unit if self.spec is not None else "normalised"

    @property
    def sky(self):
        """How the sky enters the network: ``"kept"``, ``"tile median"`` or ``"normalised"``."""
        if self.spec is None:
            return "normalised"
        return getattr(self.spec, "sky", "kept")


_MAXIMASK = "Paillassa, Bertin & Bouy 2020, A&A 634, A48"
_DEEPCR = "Zhang & Bloom 2020, ApJ 889, 24"
_COSMIC_CONN = "Xu et al. 2023, ApJ 942, 73"
_BHAVANAM = "Bhavanam et al. 2022 (attention-augmented cosmic-ray detection)"

_MAXIMASK_COMMIT = "69b88322bc2c96de5f2b09967e0fef04821db81a"


def _maximask_file(path, sha256, size):
    return WeightFile("mpaillassa", "MaxiMask", _MAXIMASK_COMMIT, path, sha256, size)


_DEEPCR_COMMIT = "29434859086c35373a49aec02c80985749dfd195"


def _deepcr_file(path, sha256, size):
    return WeightFile("profjsb", "deepCR", _DEEPCR_COMMIT, f"learned_models/{path}", sha256, size)


_COSMIC_CONN_COMMIT = "ce5785d05ee3b06bd59e3206f8ea1c9cfdf3e0dc"


def _cosmic_conn_file(name, sha256, size):
    return WeightFile(
        "cy-xu",
        "cosmic-conn",
        _COSMIC_CONN_COMMIT,
        f"cosmic_conn/trained_models/cosmic-conn_{name}_v0.2.8.pth",
        sha256,
        size,
    )


_ATTENTION_COMMIT = "9c122e554b70b478f2323af1c434b9e0d1c45d7b"


def _attention_file(name, sha256, size):
    return WeightFile(
        "lfovia",
        "Attention-Augmented-Cosmic-Ray-Detection-in-Astronomical-Images",
        _ATTENTION_COMMIT,
        f"Trained_Models/{name}.pth",
        sha256,
        size,
    )


def _deepcr(
    name, kind, depth, scale, standardize, unit, description, *, file, sha256, size, hidden=32
):
    spec = DeepCRModel(kind, depth, hidden, scale, standardize, unit, description)
    return Preset(
        f"deepcr/{name}",
        "deepcr",
        kind,
        (_deepcr_file(file, sha256, size),),
        "BSD-3-Clause",
        description,
        spec,
        0.5 if kind == "mask" else None,
        _DEEPCR,
    )


def _cosmic_conn(name, file, sha256, size, spec, *, attention_repo=False):
    if attention_repo:
        files = (_attention_file(file, sha256, size),)
        # Bhavanam et al.'s repository states no licence: astromask downloads
        # its files from upstream at run time and never vendors them.
        licence, citation, family_name = "none stated", _BHAVANAM, "decam-attention"
    else:
        files = (_cosmic_conn_file(file, sha256, size),)
        # Cosmic-CoNN's LICENSE file is the GPL v3 (its README's badge says LGPL v3);
        # the weight files are downloaded at run time, never vendored.
        licence, citation, family_name = "GPL-3.0-only", _COSMIC_CONN, "cosmic-conn"
    return Preset(
        f"{family_name}/{name}",
        "cosmic-conn",
        "mask",
        files,
        licence,
        spec.description,
        spec,
        0.5,
        citation,
    )


# Bhavanam et al. trained on deepCR's DECam set: ADU with the sky (their
# training adds -0.9 to 3 times the sky back), no scaling.  Group norms have
# 8 groups and no affine weights.
_DECAM = "DECam (deepCR's training set), ADU with the sky"

_ENTRIES = [
    Preset(
        "maximask",
        "maximask",
        "flag",
        (
            _maximask_file(
                "maximask_and_maxitrack/maximask/model/variables/variables.index",
                "4dd670e3239a04fb5624e375f09b1393ba061e2b69fd7e766d00b8374bb8efaa",
                3823,
            ),
            _maximask_file(
                "maximask_and_maxitrack/maximask/model/variables/variables.data-00000-of-00001",
                "13e5fed2cdb7abd4535a4e872b4906f380558073d9294c1d5fa2041f620073e5",
                22935401,
            ),
        ),
        "MIT",
        "MaxiMask: 14 contaminant classes, trained on simulated and real ground-based frames",
        citation=_MAXIMASK,
    ),
    Preset(
        "maxitrack",
        "maxitrack",
        "track",
        (
            _maximask_file(
                "maximask_and_maxitrack/maxitrack/model/variables/variables.index",
                "949e3258e8c00409463c58f9a6f34924a53fc8db572e7fda6f401f8856251b29",
                1583,
            ),
            _maximask_file(
                "maximask_and_maxitrack/maxitrack/model/variables/variables.data-00000-of-00001",
                "95894abf89b1b93879e298bdc1fc16a73301690de4fc657353cc5aafdcb34bef",
                33065329,
            ),
        ),
        "MIT",
        "MaxiTrack: probability that a frame has a tracking error",
        citation=_MAXIMASK,
    ),
    # Architectures and scales from deepCR 0.3.1's learned_models/__init__.py; the
    # two ACS-WFC-F606W files are not listed there, so theirs come from the deepCR
    # releases that shipped them (mask 2-4: scale 100; inpainting: deepCR applies
    # the scale of the mask model in use, 1 for its ACS-WFC mask).  Units from
    # deepCR's docs/model_zoo.rst: HST models take electrons ("_flc" frames), the
    # DECam model "calibrated images in the original unit (adu)".
    _deepcr(
        "ACS-WFC",
        "mask",
        2,
        1.0,
        False,
        "electron",
        "HST ACS/WFC, all filters (F435W, F606W, F814W)",
        file="mask/ACS-WFC.pth",
        sha256="0075cef7a8b72f3ecf449cac3793d3446720a97fc0ba812fb29863a9be1e7ace",
        size=416836,
    ),
    _deepcr(
        "ACS-WFC-F606W-2-4",
        "mask",
        2,
        100.0,
        False,
        "electron",
        "HST ACS/WFC F606W, small and fast (4 channels)",
        file="mask/ACS-WFC-F606W-2-4.pth",
        sha256="91fd387be08dfb2692fc3433566455812c42fae53fa6ec4ad19c384b68bce775",
        size=15979,
        hidden=4,
    ),
    _deepcr(
        "decam",
        "mask",
        2,
        1.0,
        False,
        "adu",
        "DECam, ground-based; trained on g-band coadds",
        file="mask/decam.pth",
        sha256="686de2afab28d13b2bff3c418ecf017d0b290ca5e8c811ef71f673ce12230815",
        size=416836,
    ),
    _deepcr(
        "WFC3-UVIS",
        "mask",
        2,
        1.0,
        True,
        "electron",
        "HST WFC3/UVIS; standardised input",
        file="mask/WFC3-UVIS.pth",
        sha256="92ad8d3231a0427c6fa6d9b39501549edc15fd1eb1162e028e2cf1711b2f59cd",
        size=412323,
    ),
    _deepcr(
        "ACS-WFC-F606W-2-32",
        "inpaint",
        2,
        1.0,
        False,
        "electron",
        "inpainting, HST ACS/WFC F606W, 2 levels",
        file="inpaint/ACS-WFC-F606W-2-32.pth",
        sha256="2a754380bfe158a1cfeee12f908f96a2bd5b59cbb7b830a4d06dad930d906111",
        size=417988,
    ),
    _deepcr(
        "ACS-WFC-F606W-3-32",
        "inpaint",
        3,
        1.0,
        False,
        "electron",
        "inpainting, HST ACS/WFC F606W, 3 levels",
        file="inpaint/ACS-WFC-F606W-3-32.pth",
        sha256="5b4faf2e239185c2d5d4235688ce61a2b9e4e5f47bbcf96c8a687b5a0c1e6c42",
        size=1890231,
    ),
    # Cosmic-CoNN 0.6.1's inference_cr.init_model: group norm (8 groups, affine)
    # unless the model is HST_ACS_WFC.  Its LCO training frames are gain-corrected
    # (electrons); the HST frames are deepCR's, in electrons.
    _cosmic_conn(
        "ground_imaging",
        "ground_imaging",
        "f8c4ea75dc9b212b8786a95d583dd9cd0b8ec95a53fd3d4cfbfe40c4c0cf267b",
        1879417,
        CosmicConnModel(
            "group", "electron", "ground-based imaging, LCO 0.4 m, 1 m and 2 m telescopes"
        ),
    ),
    _cosmic_conn(
        "NRES",
        "LCO_NRES",
        "2f676afb81286c0810facf81236e3ef1651a04a2142d6443388ec76313a8a5be",
        1879417,
        CosmicConnModel("group", "electron", "LCO NRES echelle spectra"),
    ),
    _cosmic_conn(
        "HST_ACS_WFC",
        "HST_ACS_WFC",
        "e4bcde26104c9c93548c6d68f2d455e5b9b6af985d62b15cb0157c54bcf4eb00",
        1888076,
        CosmicConnModel("batch", "electron", "HST ACS/WFC, deepCR's training set"),
    ),
    _cosmic_conn(
        "deepCR",
        "deepCR",
        "103bb140469d664b03b9209e8c0c413c808128f6a0c149155a53a3d1420d2a48",
        1890060,
        CosmicConnModel("batch", "adu", f"{_DECAM}; batch norm", sky="kept", prefix="module."),
        attention_repo=True,
    ),
    _cosmic_conn(
        "Att_deepCR",
        "Att_deepCR",
        "1f58e1181b7e2f95c2834dbf0d021a558b4f8a70d74f7d97b56f9a4cdb5eff8b",
        1924652,
        CosmicConnModel(
            "batch",
            "adu",
            f"{_DECAM}; batch norm, attention gates",
            sky="kept",
            attention=True,
            prefix="module.",
        ),
        attention_repo=True,
    ),
    _cosmic_conn(
        "Cosmic-CoNN",
        "Coasmic_CoNN",
        "49bee3a03f23b3be7c9758782de1ab72afda773d1869dde49e569b4f89d82bca",
        1873751,
        CosmicConnModel(
            "group", "adu", f"{_DECAM}; group norm", sky="kept", affine=False, prefix="module."
        ),
        attention_repo=True,
    ),
    _cosmic_conn(
        "Att_Cosmic-CoNN",
        "Att_Coasmic_CoNN",
        "63d5abaa18b496628922555c50ca31dfaf59414672f53e4523bc08ee63ed7375",
        1900083,
        CosmicConnModel(
            "group",
            "adu",
            f"{_DECAM}; group norm, attention gates",
            sky="kept",
            affine=False,
            attention=True,
            prefix="module.",
        ),
        attention_repo=True,
    ),
]

# Thresholds at false-positive rates, measured by benchmarks/bench_cr_detectors.py
# on its tuning split (real ground-based frames with real hits injected; the
# frames' own hits excluded).  Rates at which a network's probability reaches
# 1 in float32 cannot be told apart and are left out.
_CALIBRATION = {
    "deepcr/ACS-WFC": (
        (1e-5, 0.9981), (3e-5, 0.9958), (1e-4, 0.9798), (3e-4, 0.7337), (5e-4, 0.5014),
        (1e-3, 0.2275), (3e-3, 0.03658), (1e-2, 0.001796),
    ),
    "deepcr/ACS-WFC-F606W-2-4": (
        (1e-5, 0.9901), (3e-5, 0.9597), (1e-4, 0.9014), (3e-4, 0.7847), (5e-4, 0.6904),
        (1e-3, 0.5147), (3e-3, 0.182), (1e-2, 0.03086),
    ),
    "deepcr/decam": ((1e-3, 0.9991), (3e-3, 0.8192), (1e-2, 0.1667)),
    "deepcr/WFC3-UVIS": (
        (1e-5, 0.9642), (3e-5, 0.9387), (1e-4, 0.8802), (3e-4, 0.7598), (5e-4, 0.6826),
        (1e-3, 0.5629), (3e-3, 0.3592), (1e-2, 0.1753),
    ),
    "cosmic-conn/ground_imaging": (
        (1e-5, 0.9997), (3e-5, 0.9995), (1e-4, 0.999), (3e-4, 0.9652), (5e-4, 0.4818),
        (1e-3, 0.02141), (3e-3, 0.0009168), (1e-2, 4.014e-05),
    ),
    "cosmic-conn/NRES": (
        (3e-5, 0.9999), (1e-4, 0.9991), (3e-4, 0.9853), (5e-4, 0.8719), (1e-3, 0.07333),
        (3e-3, 0.0005545), (1e-2, 5.321e-06),
    ),
    "cosmic-conn/HST_ACS_WFC": (
        (1e-5, 0.9991), (3e-5, 0.9983), (1e-4, 0.9947), (3e-4, 0.9192), (5e-4, 0.648),
        (1e-3, 0.1426), (3e-3, 0.0071), (1e-2, 0.0001232),
    ),
    "decam-attention/deepCR": ((3e-3, 0.9999), (1e-2, 0.8576)),
    "decam-attention/Att_deepCR": ((1e-2, 0.7732),),
    "decam-attention/Cosmic-CoNN": ((1e-2, 0.6137),),
    "decam-attention/Att_Cosmic-CoNN": ((1e-2, 0.722),),
    "astromask/ground": (
        (1e-5, 0.9255), (3e-5, 0.8684), (1e-4, 0.7521), (3e-4, 0.5188), (5e-4, 0.3811),
        (1e-3, 0.1924), (3e-3, 0.03496), (1e-2, 0.002655),
    ),
}  # fmt: skip

_GROUND_FPR = 5e-4
"""The false-positive rate `astromask/ground`'s default threshold is calibrated to."""


def _ensemble(name, members, description, *, fpr):
    """A combination of networks already in the table, with their files and licences."""
    known = {entry.name: entry for entry in _ENTRIES}
    entries = [known[m] for m in members]
    licences = sorted({e.licence for e in entries})
    threshold = dict(_CALIBRATION[name])[fpr]
    return Preset(
        name,
        "ensemble",
        "mask",
        tuple(f for e in entries for f in e.files),
        " AND ".join(licences),
        description,
        EnsembleModel(tuple(members), description),
        threshold,
        "; ".join(dict.fromkeys(e.citation for e in entries)),
    )


_ENTRIES.append(
    _ensemble(
        "astromask/ground",
        ("deepcr/ACS-WFC", "deepcr/ACS-WFC-F606W-2-4"),
        "astromask's default: mean logit of two deepCR networks, the best detector on "
        "ground-based frames in astromask's benchmark; threshold at a false-positive "
        "rate of 5e-4 there",
        fpr=_GROUND_FPR,
    )
)
_ENTRIES = [replace(e, calibration=_CALIBRATION.get(e.name, ())) for e in _ENTRIES]

MODELS = {entry.name: entry for entry in _ENTRIES}
"""dict of str to `Preset`: THE model table, in the order the docs list it."""


def preset(name):
    """Return the `Preset` of a model name.

    Raises
    ------
    ValueError
        If ``name`` is not in `MODELS`; the message lists the names.

    Examples
    --------
    >>> from astromask.presets import preset
    >>> preset("maximask").task
    'flag'
    >>> preset("nope")
    Traceback (most recent call last):
    ...
    ValueError: model: unknown model 'nope'; choose among maximask, maxitrack, ...
    """
    entry = MODELS.get(name) if isinstance(name, str) else None
    if entry is None:
        msg = f"model: unknown model {name!r}; choose among {', '.join(MODELS)}"
        raise ValueError(msg)
    return entry


def model_spec(name):
    """Return the architecture spec (`DeepCRModel` or `CosmicConnModel`) of a UNet."""
    spec = preset(name).spec
    if spec is None:
        msg = f"model: {name!r} is not a cosmic-ray or inpainting network"
        raise ValueError(msg)
    return spec


def threshold_for_fpr(name, fpr):
    """The probability threshold of a cosmic-ray network at a false-positive rate.

    Interpolated (linear in the logarithm of the rate and in the logit of the
    threshold) between the rates of the network's `Preset.calibration`,
    which were measured on astromask's benchmark frames.  On other frames
    the rate obtained differs (by a factor of about 0.3 to 1.2 for
    ``astromask/ground`` on the benchmark's held-out frames, more for the
    single networks); calibrate on your own frames for an exact rate (see
    :doc:`/cosmicrays`).

    Parameters
    ----------
    name : str
        A cosmic-ray network of `MODELS`.
    fpr : float
        Target fraction of clean pixels flagged, within the calibrated range.

    Examples
    --------
    >>> from astromask.presets import threshold_for_fpr
    >>> threshold_for_fpr("astromask/ground", 1e-3)
    0.1924
    >>> 0.3811 < threshold_for_fpr("astromask/ground", 4e-4) < 0.5188
    True
    """
    entry = preset(name)
    points = entry.calibration
    if not points:
        msg = (
            f"threshold: {name!r} has no false-positive-rate calibration; give a "
            "probability, or use one of " + ", ".join(n for n, p in MODELS.items() if p.calibration)
        )
        raise ValueError(msg)
    rates = [r for r, _ in points]
    if not (isinstance(fpr, (int, float)) and rates[0] <= fpr <= rates[-1]):
        msg = (
            f"threshold: a false-positive rate for {name} must lie in "
            f"[{rates[0]:g}, {rates[-1]:g}], the calibrated range; got {fpr!r}"
        )
        raise ValueError(msg)
    if len(points) == 1:
        return points[0][1]
    k = next(k for k in range(len(points) - 1) if points[k][0] <= fpr <= points[k + 1][0])
    (r0, t0), (r1, t1) = points[k], points[k + 1]
    if fpr in (r0, r1):
        return t0 if fpr == r0 else t1
    w = (math.log(fpr) - math.log(r0)) / (math.log(r1) - math.log(r0))
    z0, z1 = (math.log(t / (1 - t)) for t in (t0, t1))
    return 1 / (1 + math.exp(-(z0 + w * (z1 - z0))))


def cosmic_ray_models():
    """Return ``{name: spec}`` of every cosmic-ray probability network.

    The deepCR mask networks, the networks of Cosmic-CoNN's architecture and
    astromask's combinations of them (`ensembles`); each spec has a ``unit``
    and a ``description``.

    Examples
    --------
    >>> from astromask.presets import cosmic_ray_models
    >>> models = cosmic_ray_models()
    >>> len(models), list(models)[:2], list(models)[-1]
    (12, ['deepcr/ACS-WFC', 'deepcr/ACS-WFC-F606W-2-4'], 'astromask/ground')
    >>> models["deepcr/decam"].unit
    'adu'
    """
    return {name: p.spec for name, p in MODELS.items() if p.task == "mask"}


def ensembles():
    """Return ``{name: spec}`` of the cosmic-ray detectors that combine networks.

    Examples
    --------
    >>> from astromask.presets import ensembles
    >>> list(ensembles())
    ['astromask/ground']
    """
    return {name: p.spec for name, p in MODELS.items() if p.family == "ensemble"}


def inpainting_models():
    """Return ``{name: spec}`` of every inpainting network.

    Examples
    --------
    >>> from astromask.presets import inpainting_models
    >>> list(inpainting_models())
    ['deepcr/ACS-WFC-F606W-2-32', 'deepcr/ACS-WFC-F606W-3-32']
    """
    return {name: p.spec for name, p in MODELS.items() if p.task == "inpaint"}


def model_table_rst(task=None):
    """The model table as a reStructuredText list-table (for the docs).

    Parameters
    ----------
    task : str, optional
        Only the networks of this `TASKS` key.

    Examples
    --------
    >>> from astromask.presets import model_table_rst
    >>> "deepcr/decam" in model_table_rst("mask"), "maximask" in model_table_rst("mask")
    (True, False)
    """
    rows = [
        "   * - name\n     - task\n     - input unit\n     - sky\n     - threshold"
        "\n     - licence\n     - trained on"
    ]
    for p in MODELS.values():
        if task is not None and p.task != task:
            continue
        threshold = "" if p.threshold is None else f"{p.threshold:g}"
        cells = [f"``{p.name}``", p.task, p.unit, p.sky, threshold, p.licence, p.description]
        rows.append("   * - " + "\n     - ".join(cells))
    head = ".. list-table::\n   :header-rows: 1\n   :widths: auto\n\n"
    return head + "\n".join(rows) + "\n"
