"""Read TensorFlow checkpoint "tensor bundles" without TensorFlow.

A SavedModel keeps its variables in two files: ``variables.index``, a
LevelDB-style sorted string table (SSTable) that maps each variable name to a
``BundleEntryProto`` (dtype, shape, shard, offset and size), and
``variables.data-00000-of-00001``, the raw little-endian tensor bytes.

This module decodes both with the standard library and numpy alone.  It
understands the small subset of protobuf wire format that ``BundleEntryProto``
uses, so neither TensorFlow nor protobuf is needed.  The files are treated as
untrusted input: every length, offset and shape is checked against the file
before any array is made, and nothing is executed.
"""

import struct

import numpy as np

__all__ = ["BundleFormatError", "read_tf_bundle"]

# TensorFlow's DataType enum values for the dtypes a model checkpoint holds.
_TF_DTYPES = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # compression type byte + masked crc32c


class BundleFormatError(ValueError):
    """A tensor bundle file is malformed or uses an unsupported feature."""


def _varint(buf, pos):
    """Decode a protobuf/LevelDB varint at ``pos``; return (value, new_pos)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise BundleFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise BundleFormatError("varint longer than 64 bits")


def _proto_fields(buf):
    """Iterate over (field_number, wire_type, value) of a protobuf message.

    Length-delimited values are returned as ``bytes``; varints and fixed
    values as ``int``.
    """
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise BundleFormatError("truncated fixed64 field")
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise BundleFormatError("truncated length-delimited field")
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise BundleFormatError("truncated fixed32 field")
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            raise BundleFormatError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _parse_shape(buf):
    """Decode a TensorShapeProto into a tuple of ints."""
    dims = []
    for field, _, value in _proto_fields(buf):
        if field == 2:  # repeated Dim dim
            size = 0
            for dfield, _, dvalue in _proto_fields(value):
                if dfield == 1:
                    size = dvalue
            if size >= 2**63:  # int64 -1 encodes an unknown dimension
                raise BundleFormatError("tensor shape has an unknown dimension")
            dims.append(size)
        elif field == 3 and value:
            raise BundleFormatError("tensor shape has unknown rank")
    return tuple(dims)


def _parse_entry(buf):
    """Decode a BundleEntryProto into a dict."""
    entry = {"dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0}
    for field, _, value in _proto_fields(buf):
        if field == 1:
            entry["dtype"] = value
        elif field == 2:
            entry["shape"] = _parse_shape(value)
        elif field == 3:
            entry["shard_id"] = value
        elif field == 4:
            entry["offset"] = value
        elif field == 5:
            entry["size"] = value
        elif field == 7:
            raise BundleFormatError("sliced (partitioned) variables are not supported")
    return entry


def _block(data, handle_buf, pos=0):
    """Return the contents of the SSTable block a BlockHandle points to."""
    offset, pos = _varint(handle_buf, pos)
    size, pos = _varint(handle_buf, pos)
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data):
        raise BundleFormatError("block handle points past the end of the index file")
    if data[end] != 0:
        raise BundleFormatError(
            "compressed index blocks are not supported (TensorFlow writes them "
            "uncompressed)"
        )
    return data[offset:end], pos


def _block_entries(block):
    """Iterate over the (key, value) pairs of one SSTable block."""
    if len(block) < 4:
        raise BundleFormatError("index block too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise BundleFormatError("index block restart array is corrupt")
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise BundleFormatError("index block entry is corrupt")
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len


def read_index(index_bytes):
    """Decode a ``variables.index`` file into ``{name: entry}``.

    Parameters
    ----------
    index_bytes : bytes
        The whole content of the index file.

    Returns
    -------
    entries : dict
        Maps each tensor name to a dict with keys ``dtype`` (TensorFlow enum),
        ``shape``, ``shard_id``, ``offset`` and ``size``.  The bundle header
        (empty key) is left out.
    """
    data = memoryview(index_bytes)
    if len(data) < _FOOTER_SIZE:
        raise BundleFormatError("file is too short to be a tensor bundle index")
    footer = data[len(data) - _FOOTER_SIZE :]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)
    if magic != _TABLE_MAGIC:
        raise BundleFormatError("not a tensor bundle index (bad table magic number)")
    # The footer holds the metaindex handle then the index handle.
    _, pos = _varint(footer, 0)
    _, pos = _varint(footer, pos)
    index_block, _ = _block(data, footer, pos)
    entries = {}
    for _, handle in _block_entries(index_block):
        block, _ = _block(data, handle)
        for key, value in _block_entries(block):
            if key == b"":
                continue  # BundleHeaderProto
            entries[key.decode("utf-8")] = _parse_entry(value)
    return entries


def read_tf_bundle(index_path, data_path):
    """Read every tensor of a single-shard TensorFlow checkpoint bundle.

    Parameters
    ----------
    index_path : str or path-like
        Path of the ``variables.index`` file.
    data_path : str or path-like
        Path of the ``variables.data-00000-of-00001`` file.

    Returns
    -------
    tensors : dict of str to `numpy.ndarray`
        The tensors under their checkpoint names (for example
        ``"conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE"``).  Non-numeric entries
        such as the serialized object graph are skipped.

    Raises
    ------
    BundleFormatError
        If either file is malformed, sharded, or points outside the data.
    """
    with open(index_path, "rb") as f:
        entries = read_index(f.read())
    with open(data_path, "rb") as f:
        blob = f.read()
    tensors = {}
    for name, entry in entries.items():
        if entry["dtype"] == 7:  # DT_STRING: object graph, not a weight
            continue
        dtype = _TF_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise BundleFormatError(
                f"tensor {name!r} has unsupported TensorFlow dtype {entry['dtype']}"
            )
        if entry["shard_id"] != 0:
            raise BundleFormatError(f"tensor {name!r} lives in another shard")
        offset, size, shape = entry["offset"], entry["size"], entry["shape"]
        count = int(np.prod(shape, dtype=np.int64))
        if size != count * dtype.itemsize:
            raise BundleFormatError(
                f"tensor {name!r}: {size} bytes do not hold shape {shape} of {dtype}"
            )
        if offset + size > len(blob):
            raise BundleFormatError(
                f"tensor {name!r} points past the end of the data file"
            )
        array = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
    return tensors
