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

The files are treated as untrusted input, and every malformed file raises
`TorchFormatError`:

* each pickle is first walked opcode by opcode (`pickletools.genops`, which
  reads from memory and so never allocates more than the bytes present):
  counted lengths must fit in the file, memo indices must be small, dictionary
  keys must be strings (no hash flooding), and the opcodes that build sets,
  instances or out-of-band buffers are refused;
* every count, offset, shape and stride is checked against the bytes actually
  present, and the arrays returned hold at most a few times the bytes of the
  storages, so a forged size field cannot make it allocate unbounded memory;
* zip members must lie inside the file and may not expand more than
  ``_MAX_ZIP_RATIO`` times.
"""

import collections
import io
import math
import pickle
import pickletools
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["TorchFormatError", "UnsafePickleError", "read_torch_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_DIMS = 16
_MAX_PICKLE_BYTES = 16 * 2**20  # a state dict's pickle is a few kB
_MAX_INT_BITS = 64  # torch writes int64 sizes, strides and offsets
_MAX_PICKLED_INT_BITS = 128  # any integer in a pickle (the legacy magic has 77)
_MAX_DEPTH = 64  # nesting of dictionaries in a state dict
_MAX_VIEW_FACTOR = 4  # returned bytes / storage bytes (shared storages)
_MAX_ZIP_RATIO = 32  # uncompressed / archive bytes; torch.save does not compress
_EMPTY_DIM_LIMIT = 2**31  # any dimension of a tensor with no elements
_HINT = "the file is damaged or truncated; download it again (astromask fetch)"

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

# Opcodes a state dict never needs: instances (INST, OBJ), the extension
# registry, sets (hashable elements of any type) and out-of-band buffers.
_REFUSED_OPCODES = frozenset(
    {
        "INST",
        "OBJ",
        "EXT1",
        "EXT2",
        "EXT4",
        "EMPTY_SET",
        "ADDITEMS",
        "FROZENSET",
        "BYTEARRAY8",
        "NEXT_BUFFER",
        "READONLY_BUFFER",
    }
)
_STR_OPCODES = frozenset(
    {
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
    }
)
_PUT_OPCODES = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPCODES = frozenset({"GET", "BINGET", "LONG_BINGET"})
_INT_OPCODES = frozenset({"INT", "LONG", "LONG1", "LONG4"})
_MARK = object()


class TorchFormatError(ValueError):
    """A ``.pth`` file is malformed, truncated or uses an unsupported feature.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from astromask.weights.torch_pickle import TorchFormatError, read_torch_state_dict
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "notes.pth"
    ...     _ = path.write_text("not a weight file")
    ...     try:
    ...         read_torch_state_dict(path)
    ...     except TorchFormatError as err:
    ...         print("the magic number pickle is corrupt or truncated" in str(err))
    True
    """


class UnsafePickleError(TorchFormatError):
    """A ``.pth`` file's pickle names something other than tensors and dicts.

    Examples
    --------
    A zip file laid out as ``torch.save`` writes it, whose pickle names a
    Python function: the reader refuses it without calling anything.

    >>> import pickle
    >>> import tempfile
    >>> import zipfile
    >>> from pathlib import Path
    >>> from astromask.weights.torch_pickle import UnsafePickleError, read_torch_state_dict
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "hostile.pth"
    ...     with zipfile.ZipFile(path, "w") as archive:
    ...         archive.writestr("archive/data.pkl", pickle.dumps({"weight": print}))
    ...     try:
    ...         read_torch_state_dict(path)
    ...     except UnsafePickleError as err:
    ...         print(str(err).split(": ", 1)[1][:32])
    refusing to load builtins.print:
    """


def _describe(value, limit=80):
    """A short ``repr`` that cannot fail or run long on hostile objects."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > _MAX_INT_BITS:
            return f"<int of {value.bit_length()} bits>"
        return repr(value)
    if isinstance(value, (str, bytes)):
        return repr(value[:limit])
    if isinstance(value, (float, bool, type(None))):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return f"<{type(value).__name__}>"


class _Guarded:
    """Base of the stand-ins: a pickle's BUILD opcode cannot modify them."""

    __slots__ = ()

    def __setstate__(self, state):
        msg = f"the pickle tries to modify a {type(self).__name__.lstrip('_')} (BUILD)"
        raise UnsafePickleError(msg)


class _StorageType(_Guarded):
    """Stand-in for ``torch.FloatStorage`` and the other typed storage classes."""

    __slots__ = ("dtype", "name")

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage(_Guarded):
    """A storage named in the pickle; its bytes are attached later."""

    __slots__ = ("array", "dtype", "key", "numel")

    def __init__(self, key, dtype, numel):
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.array = None


class _Tensor(_Guarded):
    """A tensor named in the pickle: a strided view of a storage."""

    __slots__ = ("offset", "size", "storage", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def to_numpy(self):
        """Copy the tensor's elements out of its storage, after bounds checks."""
        storage = self.storage
        array = storage.array
        if array is None:
            msg = f"storage {storage.key!r} has no data in the file"
            raise TorchFormatError(msg)
        size, offset = self.size, self.offset
        count = math.prod(size)
        if count == 0:
            if any(n > _EMPTY_DIM_LIMIT for n in size):
                msg = f"empty tensor of size {size} has a dimension over {_EMPTY_DIM_LIMIT}"
                raise TorchFormatError(msg)
            return np.zeros(size, dtype=storage.dtype.newbyteorder("="))
        # The stride of a dimension of length 1 is never used: ignore it.
        stride = tuple(s if n > 1 else 0 for n, s in zip(size, self.stride))
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        numel = len(array)
        if offset >= numel or last >= numel:
            msg = (
                f"tensor of size {size}, stride {self.stride} at offset {offset} runs "
                f"past its storage of {numel} elements"
            )
            raise TorchFormatError(msg)
        if count > numel:
            msg = f"tensor of size {size} has {count} elements, more than its storage of {numel}"
            raise TorchFormatError(msg)
        itemsize = array.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            array[offset:],
            shape=size,
            strides=tuple(s * itemsize for s in stride),
            writeable=False,
        )
        return np.array(view, dtype=storage.dtype.newbyteorder("="))


def _check_int(value, what, *, low=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        msg = f"{what} must be an integer >= {low}, got {_describe(value)}"
        raise TorchFormatError(msg)
    if value.bit_length() > _MAX_INT_BITS:
        msg = f"{what} {_describe(value)} does not fit in 64 bits"
        raise TorchFormatError(msg)
    return value


def _check_shape(values, what):
    if not isinstance(values, (tuple, list)) or len(values) > _MAX_DIMS:
        msg = f"{what} must be a tuple of at most {_MAX_DIMS} integers, got {_describe(values)}"
        raise TorchFormatError(msg)
    return tuple(_check_int(v, what) for v in values)


class _Function(_Guarded):
    """A callable stand-in that the pickle can call but not modify."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)


def _ordered_dict(*args):
    """Stand-in for ``collections.OrderedDict``: pickles build it empty."""
    if args:
        msg = "OrderedDict built with arguments; a state dict pickles it empty"
        raise TorchFormatError(msg)
    return collections.OrderedDict()


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
    ("collections", "OrderedDict"): _Function(_ordered_dict),
    ("torch._utils", "_rebuild_tensor"): _Function(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): _Function(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Function(_rebuild_parameter),
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
            f"refusing to load {module:.80}.{name:.80}: a weight file may only hold "
            "tensors in dictionaries, and loading this name could run code. The file "
            "is not a plain state dict, or it was tampered with; do not load it with "
            "torch.load either"
        )
        raise UnsafePickleError(msg)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            msg = f"unsupported persistent id {_describe(pid)}"
            raise TorchFormatError(msg)
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            msg = f"storage of unsupported type {_describe(storage_type)}"
            raise TorchFormatError(msg)
        if len(pid) > 5 and pid[5] is not None:
            msg = "storage views (legacy torch < 0.4 files) are not supported"
            raise TorchFormatError(msg)
        if not isinstance(key, str):
            msg = f"storage key {_describe(key)} is not a string"
            raise TorchFormatError(msg)
        _check_int(numel, "storage size")
        known = self._storages.get(key)
        if known is None:
            known = self._storages[key] = _Storage(key, storage_type.dtype, numel)
        elif known.dtype != storage_type.dtype or known.numel != numel:
            msg = f"storage {key!r:.80} declared twice with different types or sizes"
            raise TorchFormatError(msg)
        return known


def _pop_args(stack, op):
    """Pop what ``op`` consumes from the scan's tag stack; return the popped tags."""
    before = op.stack_before
    if pickletools.markobject in before:
        for mark in range(len(stack) - 1, -1, -1):
            if stack[mark] is _MARK:
                break
        else:
            msg = f"{op.name} without a MARK"
            raise TorchFormatError(msg)
        items = stack[mark + 1 :]
        below = before.index(pickletools.markobject)
        start = mark - below
        if start < 0:
            msg = f"{op.name} on an empty stack"
            raise TorchFormatError(msg)
        popped = stack[start:mark] + items
        del stack[start:]
        return popped, items
    if len(stack) < len(before) or _MARK in stack[len(stack) - len(before) :]:
        msg = f"{op.name} on a stack too short or at a MARK"
        raise TorchFormatError(msg)
    popped = stack[len(stack) - len(before) :]
    del stack[len(stack) - len(before) :]
    return popped, None


def _scan_pickle(data, start, what):
    """Check one pickle's opcodes before the unpickler runs; return where it ends.

    ``pickletools.genops`` reads counted strings from an in-memory stream, so
    a forged length fails here instead of making the C unpickler allocate it.
    A light stack of type tags checks that every dictionary key is a string.
    """
    stream = io.BytesIO(data)
    stream.seek(start)
    stack = []
    memo = {}
    try:
        for count, (op, arg, pos) in enumerate(pickletools.genops(stream)):
            name = op.name
            if pos - start > _MAX_PICKLE_BYTES:
                msg = f"the {what} pickle is over {_MAX_PICKLE_BYTES} bytes"
                raise TorchFormatError(msg)
            if name in _REFUSED_OPCODES:
                msg = f"the {what} pickle uses opcode {name}, which a state dict never needs"
                raise UnsafePickleError(msg)
            if name in _INT_OPCODES and isinstance(arg, int):
                if arg.bit_length() > _MAX_PICKLED_INT_BITS:
                    msg = f"integer of {arg.bit_length()} bits at byte {pos}"
                    raise TorchFormatError(msg)
            if name == "FRAME" and arg > len(data) - stream.tell():
                msg = f"pickle frame of {arg} bytes at byte {pos} runs past the end"
                raise TorchFormatError(msg)
            if name in _PUT_OPCODES:
                if arg > count or not stack or stack[-1] is _MARK:
                    msg = f"bad memo index {arg} at byte {pos}"
                    raise TorchFormatError(msg)
                memo[arg] = stack[-1]
                continue
            if name == "MEMOIZE":
                if not stack or stack[-1] is _MARK:
                    msg = f"MEMOIZE on an empty stack at byte {pos}"
                    raise TorchFormatError(msg)
                memo[len(memo)] = stack[-1]
                continue
            if name in _GET_OPCODES:
                if arg not in memo:
                    msg = f"memo index {arg} at byte {pos} was never stored"
                    raise TorchFormatError(msg)
                stack.append(memo[arg])
                continue
            if name == "DUP":
                if not stack or stack[-1] is _MARK:
                    msg = f"DUP on an empty stack at byte {pos}"
                    raise TorchFormatError(msg)
                stack.append(stack[-1])
                continue
            if name == "MARK":
                stack.append(_MARK)
                continue
            popped, items = _pop_args(stack, op)
            if name == "SETITEM":
                keys = popped[1:2]
            elif name in ("SETITEMS", "DICT"):
                if len(items) % 2:
                    msg = f"{name} with an odd number of items at byte {pos}"
                    raise TorchFormatError(msg)
                keys = items[0::2]
            else:
                keys = ()
            if any(tag != "str" for tag in keys):
                msg = f"dictionary key that is not a string at byte {pos}"
                raise TorchFormatError(msg)
            tag = "str" if name in _STR_OPCODES else "obj"
            stack.extend(tag for _ in op.stack_after)
    except TorchFormatError:
        raise
    except Exception as err:  # pickletools: truncated data, unknown opcode, ...
        msg = f"the {what} pickle is corrupt or truncated ({type(err).__name__}: {err})"
        raise TorchFormatError(msg) from err
    return stream.tell()


def _load_pickle(data, start, storages, what):
    """Scan then unpickle the pickle at ``data[start:]``; return (object, end)."""
    end = _scan_pickle(data, start, what)
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data[start:end]), storages).load()
    except TorchFormatError:
        raise
    except Exception as err:  # garbled pickle: bad stack, missing memo, wrong call
        msg = f"the {what} pickle is corrupt ({type(err).__name__}: {_describe(str(err))})"
        raise TorchFormatError(msg) from err
    return obj, end


def _read_legacy(data):
    storages = {}
    pos = 0
    magic, pos = _load_pickle(data, pos, storages, "magic number")
    if magic != _LEGACY_MAGIC:
        msg = "not a PyTorch file (wrong magic number)"
        raise TorchFormatError(msg)
    protocol, pos = _load_pickle(data, pos, storages, "protocol version")
    if protocol != _LEGACY_PROTOCOL:
        msg = f"unsupported legacy protocol version {_describe(protocol)}"
        raise TorchFormatError(msg)
    sys_info, pos = _load_pickle(data, pos, storages, "system information")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian", False) is not True:
        msg = "only little-endian legacy files are supported"
        raise TorchFormatError(msg)
    obj, pos = _load_pickle(data, pos, storages, "state dict")
    keys, pos = _load_pickle(data, pos, storages, "storage keys")
    if (
        not isinstance(keys, list)
        or not all(isinstance(key, str) for key in keys)
        or sorted(keys) != sorted(storages)
    ):
        msg = "the list of storages does not match the storages the tensors use"
        raise TorchFormatError(msg)
    for key in keys:
        storage = storages[key]
        if pos + 8 > len(data):
            msg = f"truncated at byte {len(data)}, before storage {key!r:.80}"
            raise TorchFormatError(msg)
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        if numel != storage.numel:
            msg = f"storage {key!r:.80} holds {numel} elements, the pickle says {storage.numel}"
            raise TorchFormatError(msg)
        nbytes = numel * storage.dtype.itemsize
        if nbytes > len(data) - pos:
            msg = (
                f"truncated at byte {len(data)}, inside storage {key!r:.80} "
                f"({nbytes} bytes declared from byte {pos})"
            )
            raise TorchFormatError(msg)
        dtype = storage.dtype.newbyteorder("<")
        storage.array = np.frombuffer(data, dtype=dtype, count=numel, offset=pos)
        pos += nbytes
    return obj, storages


def _member(zf, name, archive_size, budget):
    """Read one zip member after checking its declared sizes; return its bytes."""
    info = zf.getinfo(name)
    if info.flag_bits & 0x1:
        msg = f"zip member {name!r:.80} is encrypted"
        raise TorchFormatError(msg)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        msg = f"zip member {name!r:.80} uses unsupported compression {info.compress_type}"
        raise TorchFormatError(msg)
    if info.header_offset + info.compress_size > archive_size:
        msg = (
            f"zip member {name!r:.80} claims {info.compress_size} bytes from byte "
            f"{info.header_offset}, past the end of the {archive_size}-byte file"
        )
        raise TorchFormatError(msg)
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        msg = (
            f"stored zip member {name!r:.80} claims {info.file_size} bytes but holds "
            f"{info.compress_size}"
        )
        raise TorchFormatError(msg)
    budget[0] -= info.file_size
    if budget[0] < 0:
        msg = (
            f"zip members expand to more than {_MAX_ZIP_RATIO} times the "
            f"{archive_size}-byte file (a zip bomb?)"
        )
        raise TorchFormatError(msg)
    with zf.open(info) as member:
        raw = member.read(info.file_size)
    if len(raw) != info.file_size:
        msg = f"zip member {name!r:.80} is truncated"
        raise TorchFormatError(msg)
    return raw


def _read_zip(data):
    storages = {}
    budget = [_MAX_ZIP_RATIO * len(data)]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                msg = "zip file has no single <folder>/data.pkl: not a torch.save file"
                raise TorchFormatError(msg)
            folder = pickles[0].split("/")[0]
            order = "little"
            if f"{folder}/byteorder" in names:
                if zf.getinfo(f"{folder}/byteorder").file_size > 16:
                    msg = "the byteorder member is too long"
                    raise TorchFormatError(msg)
                raw = _member(zf, f"{folder}/byteorder", len(data), budget)
                order = raw.decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                msg = f"unknown byte order {order!r:.20}"
                raise TorchFormatError(msg)
            info = zf.getinfo(pickles[0])
            if info.file_size > _MAX_PICKLE_BYTES:
                msg = f"data.pkl is {info.file_size} bytes, too large for a state dict"
                raise TorchFormatError(msg)
            pickled = _member(zf, pickles[0], len(data), budget)
            obj, _ = _load_pickle(pickled, 0, storages, "state dict")
            for key, storage in storages.items():
                name = f"{folder}/data/{key}"
                if name not in names:
                    msg = f"storage {key!r:.80} is missing from the zip file"
                    raise TorchFormatError(msg)
                nbytes = storage.numel * storage.dtype.itemsize
                if zf.getinfo(name).file_size < nbytes:
                    msg = f"storage {key!r:.80} is shorter than the {nbytes} bytes declared"
                    raise TorchFormatError(msg)
                raw = _member(zf, name, len(data), budget)
                dtype = storage.dtype.newbyteorder("<" if order == "little" else ">")
                storage.array = np.frombuffer(raw, dtype=dtype, count=storage.numel)
    except TorchFormatError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        zlib.error,
        NotImplementedError,
        RuntimeError,
        struct.error,
        ValueError,  # BytesIO: negative seek from a forged offset
    ) as err:
        msg = f"the zip container is corrupt ({type(err).__name__}: {err})"
        raise TorchFormatError(msg) from err
    return obj, storages


def _collect(obj, storages):
    """Walk the nested dictionaries; return ``{dotted name: ndarray}``."""
    out = {}
    arrays = {}  # id(_Tensor) -> array: a tensor pickled twice is copied once
    seen = set()
    budget = _MAX_VIEW_FACTOR * sum(
        s.array.nbytes for s in storages.values() if s.array is not None
    )
    todo = [("", obj, 0)]
    while todo:
        prefix, node, depth = todo.pop()
        if isinstance(node, _Tensor):
            if id(node) not in arrays:
                array = node.to_numpy()
                budget -= array.nbytes
                if budget < 0:
                    msg = (
                        "the tensors hold more than "
                        f"{_MAX_VIEW_FACTOR} times the bytes of their storages"
                    )
                    raise TorchFormatError(msg)
                arrays[id(node)] = array
            out[prefix] = arrays[id(node)]
        elif isinstance(node, dict):
            if id(node) in seen:
                msg = f"state dict entry {prefix!r:.80} repeats a dictionary (or a cycle)"
                raise TorchFormatError(msg)
            if depth > _MAX_DEPTH:
                msg = f"state dict nested over {_MAX_DEPTH} levels deep"
                raise TorchFormatError(msg)
            seen.add(id(node))
            children = []
            for key, value in node.items():
                if not isinstance(key, str):
                    msg = f"state dict key {_describe(key)} is not a string"
                    raise TorchFormatError(msg)
                children.append((f"{prefix}.{key}" if prefix else key, value, depth + 1))
            todo.extend(reversed(children))
        elif not isinstance(node, (int, float, str, bool, type(None))):
            msg = f"state dict entry {prefix!r:.80} is a {type(node).__name__}, not a tensor"
            raise TorchFormatError(msg)
    return out


def read_torch_state_dict(path):
    """Read a PyTorch state dict (``torch.save`` output) into numpy arrays.

    Both the zip format (torch >= 1.6) and the legacy format are read.
    Nothing in the file is executed, and a malformed file raises
    `TorchFormatError` (never another exception) without allocating more
    memory than a few times the file's size.

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

    Examples
    --------
    deepCR's ACS/WFC mask network (see `UnsafePickleError` and
    `TorchFormatError` for files that are refused):

    >>> from astromask import data
    >>> from astromask.weights.torch_pickle import read_torch_state_dict
    >>> (entry,) = data.model_files("deepcr/ACS-WFC")
    >>> tensors = read_torch_state_dict(data.fetch(entry))  # doctest: +REMOTE_DATA
    >>> len(tensors)  # doctest: +REMOTE_DATA
    46
    >>> weight = tensors["module.inc.conv.conv.0.weight"]  # doctest: +REMOTE_DATA
    >>> weight.shape, str(weight.dtype)  # doctest: +REMOTE_DATA
    ((32, 1, 3, 3), 'float32')
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            obj, storages = _read_zip(data)
        elif data[:4] == b"PK\x03\x04":
            msg = "the zip container is truncated or corrupt (no central directory)"
            raise TorchFormatError(msg)
        else:
            obj, storages = _read_legacy(data)
        if not isinstance(obj, dict):
            msg = f"the file holds a {type(obj).__name__}, not a state dict"
            raise TorchFormatError(msg)
        return _collect(obj, storages)
    except UnsafePickleError as err:
        msg = f"{path}: {err}"
        raise UnsafePickleError(msg) from None
    except TorchFormatError as err:
        msg = f"{path}: {err}; {_HINT}"
        raise TorchFormatError(msg) from err.__cause__
