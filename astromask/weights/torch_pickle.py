"""Read PyTorch ``.pth`` state dicts without torch and without running pickled code.

``torch.save`` writes one of two formats:

* the **legacy** format (before torch 1.6): five pickles in a row (a magic
  number, the protocol version, system information, the object, the list of
  storage keys) followed by each storage's raw bytes, in that order, each
  preceded by its element count as a little-endian int64;
* the **zip** format: ``<folder>/data.pkl`` holds the object and
  ``<folder>/data/<key>`` each storage's raw bytes.

In both, tensors appear in the pickle as calls to
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
and storages as *persistent ids* ``("storage", torch.FloatStorage, key,
location, numel)``.

A pickle can name any importable callable, so loading one with `pickle`
executes whatever it names.  This reader uses a restricted unpickler instead:
it resolves only the handful of names a state dict needs (an ``OrderedDict``,
the tensor rebuild functions and the typed storage classes), maps each to a
harmless local stand-in, and refuses every other name with
`UnsafePickleError` before anything is called.  Tensors become numpy arrays.
Every count, offset, shape and stride is checked against the bytes actually
present, so a forged size field cannot make it allocate unbounded memory.
"""

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["TorchFormatError", "UnsafePickleError", "read_torch_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_DIMS = 16
_MAX_PICKLE_BYTES = 64 * 2**20  # a state dict's pickle is a few kB

_STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchFormatError(ValueError):
    """A ``.pth`` file is malformed, truncated or uses an unsupported feature."""


class UnsafePickleError(TorchFormatError):
    """A ``.pth`` file's pickle names something other than tensors and dicts."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` and the other typed storage classes."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage named in the pickle; its bytes are attached later."""

    def __init__(self, key, dtype, numel):
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.array = None


class _Tensor:
    """A tensor named in the pickle: a strided view of a storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def to_numpy(self):
        storage = self.storage
        if storage.array is None:
            msg = f"storage {storage.key!r} has no data in the file"
            raise TorchFormatError(msg)
        size, stride, offset = self.size, self.stride, self.offset
        if any(n == 0 for n in size):
            return np.zeros(size, dtype=storage.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset >= storage.numel or last >= storage.numel:
            msg = (
                f"tensor of size {size}, stride {stride} at offset {offset} runs past "
                f"its storage of {storage.numel} elements"
            )
            raise TorchFormatError(msg)
        itemsize = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage.array[offset:],
            shape=size,
            strides=tuple(s * itemsize for s in stride),
            writeable=False,
        )
        return np.array(view, dtype=storage.dtype.newbyteorder("="))


def _check_int(value, what, *, low=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        msg = f"{what} must be an integer >= {low}, got {value!r}"
        raise TorchFormatError(msg)
    return value


def _check_shape(values, what):
    if not isinstance(values, (tuple, list)) or len(values) > _MAX_DIMS:
        msg = f"{what} must be a tuple of at most {_MAX_DIMS} integers, got {values!r}"
        raise TorchFormatError(msg)
    return tuple(_check_int(v, what) for v in values)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Stand-in for ``torch._utils._rebuild_tensor`` and ``_rebuild_tensor_v2``."""
    if not isinstance(storage, _Storage):
        msg = f"tensor built from {type(storage).__name__}, not from a storage"
        raise TorchFormatError(msg)
    size = _check_shape(size, "tensor size")
    stride = _check_shape(stride, "tensor stride")
    if len(size) != len(stride):
        msg = f"tensor size {size} and stride {stride} differ in length"
        raise TorchFormatError(msg)
    return _Tensor(storage, _check_int(storage_offset, "storage offset"), size, stride)


def _rebuild_parameter(data, *_ignored):
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is its data."""
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names of `_ALLOWED` and the typed storages."""

    def __init__(self, file, storages):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        msg = (
            f"refusing to load {module}.{name}: a weight file may only hold tensors "
            "in dictionaries, and loading this name could run code. The file is "
            "not a plain state dict, or it was tampered with; do not load it with "
            "torch.load either"
        )
        raise UnsafePickleError(msg)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            msg = f"unsupported persistent id {pid!r:.80}"
            raise TorchFormatError(msg)
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            msg = f"storage of unsupported type {storage_type!r:.80}"
            raise TorchFormatError(msg)
        if len(pid) > 5 and pid[5] is not None:
            msg = "storage views (legacy torch < 0.4 files) are not supported"
            raise TorchFormatError(msg)
        key = str(key)
        _check_int(numel, "storage size")
        known = self._storages.get(key)
        if known is None:
            known = self._storages[key] = _Storage(key, storage_type.dtype, numel)
        elif known.dtype != storage_type.dtype or known.numel != numel:
            msg = f"storage {key!r} declared twice with different types or sizes"
            raise TorchFormatError(msg)
        return known


def _unpickle(data, storages):
    try:
        return _RestrictedUnpickler(data, storages).load()
    except TorchFormatError:
        raise
    except Exception as err:  # truncated or garbled pickle
        msg = f"the pickle is corrupt or truncated ({type(err).__name__}: {err})"
        raise TorchFormatError(msg) from err


def _read_legacy(f, file_size):
    storages = {}
    magic = _unpickle(f, storages)
    if magic != _LEGACY_MAGIC:
        msg = "not a PyTorch file (wrong magic number)"
        raise TorchFormatError(msg)
    protocol = _unpickle(f, storages)
    if protocol != _LEGACY_PROTOCOL:
        msg = f"unsupported legacy protocol version {protocol!r}"
        raise TorchFormatError(msg)
    sys_info = _unpickle(f, storages)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        msg = "only little-endian legacy files are supported"
        raise TorchFormatError(msg)
    obj = _unpickle(f, storages)
    keys = _unpickle(f, storages)
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        msg = "the list of storages does not match the storages the tensors use"
        raise TorchFormatError(msg)
    for key in keys:
        storage = storages[str(key)]
        header = f.read(8)
        if len(header) != 8:
            msg = f"file ends before storage {key!r}"
            raise TorchFormatError(msg)
        (numel,) = struct.unpack("<q", header)
        if numel != storage.numel:
            msg = f"storage {key!r} holds {numel} elements, the pickle says {storage.numel}"
            raise TorchFormatError(msg)
        nbytes = numel * storage.dtype.itemsize
        if nbytes > file_size - f.tell():
            msg = f"file ends inside storage {key!r} ({nbytes} bytes declared)"
            raise TorchFormatError(msg)
        storage.array = np.frombuffer(f.read(nbytes), dtype=storage.dtype.newbyteorder("<"))
    return obj


def _read_zip(path):
    storages = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                msg = "zip file has no single <folder>/data.pkl: not a torch.save file"
                raise TorchFormatError(msg)
            folder = pickles[0].split("/")[0]
            order = "little"
            if f"{folder}/byteorder" in names:
                order = zf.read(f"{folder}/byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                msg = f"unknown byte order {order!r}"
                raise TorchFormatError(msg)
            info = zf.getinfo(pickles[0])
            if info.file_size > _MAX_PICKLE_BYTES:
                msg = f"data.pkl is {info.file_size} bytes, too large for a state dict"
                raise TorchFormatError(msg)
            obj = _unpickle(io.BytesIO(zf.read(info)), storages)
            for key, storage in storages.items():
                name = f"{folder}/data/{key}"
                if name not in names:
                    msg = f"storage {key!r} is missing from the zip file"
                    raise TorchFormatError(msg)
                nbytes = storage.numel * storage.dtype.itemsize
                if zf.getinfo(name).file_size < nbytes:
                    msg = f"storage {key!r} is shorter than the {nbytes} bytes declared"
                    raise TorchFormatError(msg)
                with zf.open(name) as member:
                    raw = member.read(nbytes)
                dtype = storage.dtype.newbyteorder("<" if order == "little" else ">")
                storage.array = np.frombuffer(raw, dtype=dtype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        msg = f"the zip container is corrupt ({err})"
        raise TorchFormatError(msg) from err
    return obj


def _to_numpy(obj, prefix, out):
    if isinstance(obj, _Tensor):
        out[prefix] = obj.to_numpy()
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                msg = f"state dict key {key!r} is not a string"
                raise TorchFormatError(msg)
            _to_numpy(value, f"{prefix}.{key}" if prefix else key, out)
    elif not isinstance(obj, (int, float, str, bool, type(None))):
        msg = f"state dict entry {prefix!r} is a {type(obj).__name__}, not a tensor"
        raise TorchFormatError(msg)


def read_torch_state_dict(path):
    """Read a PyTorch state dict (``torch.save`` output) into numpy arrays.

    Both the zip format (torch >= 1.6) and the legacy format are read.
    Nothing in the file is executed.

    Parameters
    ----------
    path : str or `os.PathLike`
        The ``.pth`` file.

    Returns
    -------
    tensors : dict of str to `numpy.ndarray`
        Every tensor, keyed by its state-dict name (nested dictionaries are
        joined with dots).  Non-tensor entries (numbers, strings) are left out.

    Raises
    ------
    UnsafePickleError
        If the pickle names anything but dictionaries, tensors and storages.
    TorchFormatError
        If the file is truncated, malformed or of an unsupported kind.
    """
    path = Path(path)
    file_size = path.stat().st_size
    if zipfile.is_zipfile(path):
        obj = _read_zip(path)
    else:
        with open(path, "rb") as f:
            obj = _read_legacy(f, file_size)
    if not isinstance(obj, dict):
        msg = f"the file holds a {type(obj).__name__}, not a state dict"
        raise TorchFormatError(msg)
    out = {}
    _to_numpy(obj, "", out)
    return out
