"""A minimal TensorFlow tensor-bundle writer, to test the reader on files it
did not come with (no TensorFlow needed)."""

import struct

import numpy as np

_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3}


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, wire, payload):
    tag = _varint(number << 3 | wire)
    if wire == 0:
        return tag + _varint(payload)
    return tag + _varint(len(payload)) + payload


def _entry(dtype, shape, offset, size):
    dims = b"".join(_field(2, 2, _field(1, 0, d)) for d in shape)
    return (
        _field(1, 0, dtype)
        + _field(2, 2, dims)
        + _field(4, 0, offset)
        + _field(5, 0, size)
        + struct.pack("<BI", 6 << 3 | 5, 0)  # crc32c (fixed32), not checked
    )


def _block(items):
    out = bytearray()
    for key, value in items:
        out += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    out += struct.pack("<II", 0, 1)  # one restart point at offset 0
    return bytes(out)


def write_bundle(index_path, data_path, tensors, *, corrupt=None):
    """Write ``tensors`` (name -> array) as a single-shard bundle.

    ``corrupt="offset"`` makes the first tensor point past the data file.
    """
    data = bytearray()
    items = [(b"", _field(1, 0, 1))]  # header: num_shards = 1
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        offset = len(data)
        data += array.astype(array.dtype.newbyteorder("<")).tobytes()
        if corrupt == "offset" and len(items) == 1:
            offset += 10**6
        items.append(
            (name.encode(), _entry(_DTYPES[array.dtype], array.shape, offset, array.nbytes))
        )
    block = _block(items)
    index = bytearray(block) + b"\x00\x00\x00\x00\x00"  # type byte + crc
    index_block = _block([(b"\xff", _varint(0) + _varint(len(block)))])
    index_offset = len(index)
    index += index_block + b"\x00\x00\x00\x00\x00"
    meta_offset = len(index)
    meta_block = _block([])
    index += meta_block + b"\x00\x00\x00\x00\x00"
    footer = (
        _varint(meta_offset) + _varint(len(meta_block))
        + _varint(index_offset) + _varint(len(index_block))
    )
    footer = footer.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    index += footer
    with open(index_path, "wb") as f:
        f.write(index)
    with open(data_path, "wb") as f:
        f.write(data)
