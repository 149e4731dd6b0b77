"""Pretrained weights: the registry, the cache and the downloads (through pooch).

Every file is pinned by URL (a repository commit) and sha256.  Files are
downloaded on first use into a cache folder and verified each time they are
opened; a file whose hash does not match is never loaded.

Environment variables
---------------------
``ASTROMASK_DATA_DIR``
    Cache folder (default: the platform's user cache, for example
    ``~/.cache/astromask`` on Linux).
``ASTROMASK_WEIGHTS_URL``
    Base URL of a mirror.  Each file is then fetched from
    ``{ASTROMASK_WEIGHTS_URL}/{owner}/{repo}/{commit}/{path}`` instead of
    GitHub: a site mirror for compute nodes without internet, or the loopback
    mirror that the tests use.

Run ``astromask fetch`` (or `fetch_all`) once on a machine with network access
to fill the cache ahead of time.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pooch

__all__ = [
    "REGISTRY",
    "WeightFile",
    "WeightsError",
    "cache_dir",
    "fetch",
    "fetch_all",
    "model_files",
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


_MAXIMASK_COMMIT = "69b88322bc2c96de5f2b09967e0fef04821db81a"


def _maximask_file(path, sha256, size):
    return WeightFile("mpaillassa", "MaxiMask", _MAXIMASK_COMMIT, path, sha256, size)


_FILES = {
    "maximask": (
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
    "maxitrack": (
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
}

_DEEPCR_COMMIT = "29434859086c35373a49aec02c80985749dfd195"


def _deepcr_file(path, sha256, size):
    return WeightFile("profjsb", "deepCR", _DEEPCR_COMMIT, f"learned_models/{path}", sha256, size)


_FILES.update(
    {
        "deepcr/ACS-WFC": (
            _deepcr_file(
                "mask/ACS-WFC.pth",
                "0075cef7a8b72f3ecf449cac3793d3446720a97fc0ba812fb29863a9be1e7ace",
                416836,
            ),
        ),
        "deepcr/ACS-WFC-F606W-2-4": (
            _deepcr_file(
                "mask/ACS-WFC-F606W-2-4.pth",
                "91fd387be08dfb2692fc3433566455812c42fae53fa6ec4ad19c384b68bce775",
                15979,
            ),
        ),
        "deepcr/decam": (
            _deepcr_file(
                "mask/decam.pth",
                "686de2afab28d13b2bff3c418ecf017d0b290ca5e8c811ef71f673ce12230815",
                416836,
            ),
        ),
        "deepcr/WFC3-UVIS": (
            _deepcr_file(
                "mask/WFC3-UVIS.pth",
                "92ad8d3231a0427c6fa6d9b39501549edc15fd1eb1162e028e2cf1711b2f59cd",
                412323,
            ),
        ),
        "deepcr/ACS-WFC-F606W-2-32": (
            _deepcr_file(
                "inpaint/ACS-WFC-F606W-2-32.pth",
                "2a754380bfe158a1cfeee12f908f96a2bd5b59cbb7b830a4d06dad930d906111",
                417988,
            ),
        ),
        "deepcr/ACS-WFC-F606W-3-32": (
            _deepcr_file(
                "inpaint/ACS-WFC-F606W-3-32.pth",
                "5b4faf2e239185c2d5d4235688ce61a2b9e4e5f47bbcf96c8a687b5a0c1e6c42",
                1890231,
            ),
        ),
    }
)

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


# Cosmic-CoNN's code is GPL; its weight files are data, downloaded at run time.
_FILES.update(
    {
        "cosmic-conn/ground_imaging": (
            _cosmic_conn_file(
                "ground_imaging",
                "f8c4ea75dc9b212b8786a95d583dd9cd0b8ec95a53fd3d4cfbfe40c4c0cf267b",
                1879417,
            ),
        ),
        "cosmic-conn/NRES": (
            _cosmic_conn_file(
                "LCO_NRES",
                "2f676afb81286c0810facf81236e3ef1651a04a2142d6443388ec76313a8a5be",
                1879417,
            ),
        ),
        "cosmic-conn/HST_ACS_WFC": (
            _cosmic_conn_file(
                "HST_ACS_WFC",
                "e4bcde26104c9c93548c6d68f2d455e5b9b6af985d62b15cb0157c54bcf4eb00",
                1888076,
            ),
        ),
    }
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


# Bhavanam et al.'s repository states no licence: its files are only ever
# downloaded from upstream at run time, never vendored.
_FILES.update(
    {
        "decam-attention/deepCR": (
            _attention_file(
                "deepCR",
                "103bb140469d664b03b9209e8c0c413c808128f6a0c149155a53a3d1420d2a48",
                1890060,
            ),
        ),
        "decam-attention/Att_deepCR": (
            _attention_file(
                "Att_deepCR",
                "1f58e1181b7e2f95c2834dbf0d021a558b4f8a70d74f7d97b56f9a4cdb5eff8b",
                1924652,
            ),
        ),
        "decam-attention/Cosmic-CoNN": (
            _attention_file(
                "Coasmic_CoNN",
                "49bee3a03f23b3be7c9758782de1ab72afda773d1869dde49e569b4f89d82bca",
                1873751,
            ),
        ),
        "decam-attention/Att_Cosmic-CoNN": (
            _attention_file(
                "Att_Coasmic_CoNN",
                "63d5abaa18b496628922555c50ca31dfaf59414672f53e4523bc08ee63ed7375",
                1900083,
            ),
        ),
    }
)

REGISTRY = {f.key: f for files in _FILES.values() for f in files}
"""dict of str to `WeightFile`: every pinned file, keyed ``owner/repo/commit/path``."""


class WeightsError(OSError):
    """Weights could not be downloaded, or failed their hash check."""


def cache_dir():
    """Return the weights cache folder (``ASTROMASK_DATA_DIR`` or the user cache).

    Returns
    -------
    path : `pathlib.Path`
    """
    override = os.environ.get("ASTROMASK_DATA_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return Path(pooch.os_cache("astromask"))


def model_files(model):
    """Return the `WeightFile` entries a model needs.

    Parameters
    ----------
    model : str
        Model name, for example ``"maximask"`` or ``"deepcr/ACS-WFC"``.
    """
    try:
        return _FILES[model]
    except KeyError:
        msg = f"model: unknown model {model!r}; choose among {', '.join(_FILES)}"
        raise ValueError(msg) from None


def _help():
    return (
        "Set ASTROMASK_WEIGHTS_URL to a mirror holding owner/repo/commit/path "
        "copies of the files, or run 'astromask fetch' on a machine with network "
        "access and share its cache folder through ASTROMASK_DATA_DIR "
        f"(now {cache_dir()})."
    )


def fetch(entry, *, progress=False):
    """Return the local path of a weight file, downloading it if needed.

    A cached file is used only if its SHA-256 matches; otherwise it is
    downloaded again.  A download whose hash does not match is retried once,
    then refused.

    Parameters
    ----------
    entry : `WeightFile` or str
        The file, or its registry key.
    progress : bool, optional
        Show a download progress bar.

    Returns
    -------
    path : `pathlib.Path`

    Raises
    ------
    WeightsError
        If the file cannot be downloaded, or twice fails its hash check.
    """
    if isinstance(entry, str):
        entry = REGISTRY[entry]
    folder = cache_dir() / Path(entry.key).parent
    downloader = pooch.HTTPDownloader(progressbar=bool(progress), timeout=60)
    last_error = None
    for _attempt in range(2):
        try:
            path = pooch.retrieve(
                entry.url,
                known_hash=f"sha256:{entry.sha256}",
                fname=Path(entry.path).name,
                path=folder,
                downloader=downloader,
                progressbar=bool(progress),
            )
            return Path(path)
        except ValueError as err:  # pooch: hash mismatch after download
            last_error = err
        except Exception as err:  # network, HTTP status, file system
            msg = f"could not download {entry.key} from {entry.url}: {err}. " + _help()
            raise WeightsError(msg) from err
    msg = (
        f"{entry.key} downloaded from {entry.url} does not have the expected "
        f"SHA-256 {entry.sha256}, twice; it was not loaded. The mirror or the "
        f"cache holds a wrong file. {_help()}"
    )
    raise WeightsError(msg) from last_error


def fetch_all(*, progress=False):
    """Download every registered weight file into the cache.

    Parameters
    ----------
    progress : bool, optional
        Show progress bars.

    Returns
    -------
    paths : list of `pathlib.Path`
    """
    return [fetch(entry, progress=progress) for entry in REGISTRY.values()]
