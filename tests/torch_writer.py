"""Write tiny ``torch.save``-format files without torch, for the reader's tests.

The pickle is assembled opcode by opcode (protocol 2), so it can name
``torch._utils._rebuild_tensor_v2`` and ``torch.FloatStorage`` without torch
being importable, and so tests can forge malformed or malicious files.
"""

import io
import pickle
import struct
import zipfile

import numpy as np

_STORAGE = {
    np.dtype("f4"): "FloatStorage",
    np.dtype("f8"): "DoubleStorage",
    np.dtype("i8"): "LongStorage",
}


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value):
    return (
        b"J" + struct.pack("<i", value)
        if -(2**31) <= value < 2**31
        else b"\x8a\x08" + struct.pack("<q", value)
    )


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


def _ordered_dict():
    return _global("collections", "OrderedDict") + b")R"


def tensor_opcodes(key, dtype, numel, offset, size, stride, storage_class=None):
    """Opcodes that rebuild one tensor from the storage ``key``."""
    storage_class = storage_class or _STORAGE[np.dtype(dtype)]
    pid = (
        _tuple(
            [_str("storage"), _global("torch", storage_class), _str(key), _str("cpu"), _int(numel)]
        )
        + b"Q"
    )
    args = _tuple(
        [
            pid,
            _int(offset),
            _tuple([_int(v) for v in size]),
            _tuple([_int(v) for v in stride]),
            b"\x89",
            _ordered_dict(),
        ]
    )
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def state_dict_pickle(entries):
    """A pickle of an OrderedDict ``{name: opcodes}``."""
    body = b"\x80\x02" + _ordered_dict()
    for name, opcodes in entries.items():
        body += _str(name) + opcodes + b"s"
    return body + b"."


def plain_tensors(tensors):
    """``({name: opcodes}, {key: bytes})`` for contiguous numpy arrays."""
    entries, storages = {}, {}
    for i, (name, array) in enumerate(tensors.items()):
        array = np.ascontiguousarray(array)
        key = str(i)
        stride = [s // array.itemsize for s in array.strides]
        entries[name] = tensor_opcodes(key, array.dtype, array.size, 0, array.shape, stride)
        storages[key] = array.astype(array.dtype.newbyteorder("<")).tobytes()
    return entries, storages


def legacy_file(entries, storages, *, itemsizes=None):
    """Bytes of a legacy-format file: 5 pickles then each storage."""
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump(
        {
            "protocol_version": 1001,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4},
        },
        out,
        protocol=2,
    )
    out.write(state_dict_pickle(entries))
    pickle.dump(list(storages), out, protocol=2)
    for key, raw in storages.items():
        itemsize = (itemsizes or {}).get(key, 4)
        out.write(struct.pack("<q", len(raw) // itemsize))
        out.write(raw)
    return out.getvalue()


def zip_file(entries, storages, *, folder="archive", pickle_bytes=None):
    """Bytes of a zip-format file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{folder}/data.pkl", pickle_bytes or state_dict_pickle(entries))
        zf.writestr(f"{folder}/byteorder", "little")
        for key, raw in storages.items():
            zf.writestr(f"{folder}/data/{key}", raw)
        zf.writestr(f"{folder}/version", "3\n")
    return out.getvalue()
