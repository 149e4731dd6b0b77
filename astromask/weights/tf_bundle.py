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

import math
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
_MAX_DIMS = 32  # numpy's limit is 64; checkpoints hold at most 5
_HINT = "the file is damaged or truncated; download it again (astromask fetch)"


class BundleFormatError(ValueError):
    """A tensor bundle file is malformed or uses an unsupported feature."""


def _varint(buf, pos):
    """Decode a protobuf/LevelDB varint at ``pos``; return (value, new_pos)."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= len(buf):
            msg = f"varint at byte {start} truncated at byte {pos}"
            raise BundleFormatError(msg)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            msg = f"varint at byte {start} is longer than 64 bits"
            raise BundleFormatError(msg)


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
                msg = f"fixed64 field {field} truncated at byte {len(buf)}"
                raise BundleFormatError(msg)
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if length > len(buf) - pos:
                msg = (
                    f"field {field} of {length} bytes at byte {pos} runs past the "
                    f"{len(buf)}-byte message"
                )
                raise BundleFormatError(msg)
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:
            if pos + 4 > len(buf):
                msg = f"fixed32 field {field} truncated at byte {len(buf)}"
                raise BundleFormatError(msg)
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            msg = f"unsupported protobuf wire type {wire} (field {field})"
            raise BundleFormatError(msg)
        yield field, wire, value


def _expect_wire(field, wire, expected, what):
    """Refuse a field whose wire type is not the one its schema gives."""
    if wire != expected:
        msg = f"{what} (field {field}) has wire type {wire}, expected {expected}"
        raise BundleFormatError(msg)


def _parse_shape(buf):
    """Decode a TensorShapeProto into a tuple of ints."""
    dims = []
    for field, wire, value in _proto_fields(buf):
        if field == 2:  # repeated Dim dim
            _expect_wire(field, wire, 2, "tensor shape dimension")
            size = 0
            for dfield, dwire, dvalue in _proto_fields(value):
                if dfield == 1:
                    _expect_wire(dfield, dwire, 0, "dimension size")
                    size = dvalue
            if size >= 2**63:  # int64 -1 encodes an unknown dimension
                msg = "tensor shape has an unknown (negative) dimension"
                raise BundleFormatError(msg)
            dims.append(size)
            if len(dims) > _MAX_DIMS:
                msg = f"tensor shape has over {_MAX_DIMS} dimensions"
                raise BundleFormatError(msg)
        elif field == 3 and value:
            msg = "tensor shape has unknown rank"
            raise BundleFormatError(msg)
    return tuple(dims)


def _parse_entry(buf):
    """Decode a BundleEntryProto into a dict."""
    entry = {"dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0}
    names = {1: "dtype", 3: "shard_id", 4: "offset", 5: "size"}
    for field, wire, value in _proto_fields(buf):
        if field in names:
            _expect_wire(field, wire, 0, names[field])
            entry[names[field]] = value
        elif field == 2:
            _expect_wire(field, wire, 2, "shape")
            entry["shape"] = _parse_shape(value)
        elif field == 7:
            msg = "sliced (partitioned) variables are not supported"
            raise BundleFormatError(msg)
    return entry


def _block(data, handle_buf, pos=0):
    """Return the contents of the SSTable block a BlockHandle points to."""
    offset, pos = _varint(handle_buf, pos)
    size, pos = _varint(handle_buf, pos)
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data):
        msg = (
            f"block of {size} bytes at byte {offset} runs past the end of the "
            f"{len(data)}-byte index file"
        )
        raise BundleFormatError(msg)
    if data[end] != 0:
        msg = (
            f"block at byte {offset} is compressed (type {data[end]}); TensorFlow "
            "writes index blocks uncompressed"
        )
        raise BundleFormatError(msg)
    return data[offset:end], pos


def _block_entries(block):
    """Iterate over the (key, value) pairs of one SSTable block."""
    if len(block) < 4:
        msg = f"index block of {len(block)} bytes is too short"
        raise BundleFormatError(msg)
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        msg = f"index block restart array ({num_restarts} restarts) is corrupt"
        raise BundleFormatError(msg)
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or non_shared + value_len > limit - pos:
            msg = f"index block entry at byte {pos} is corrupt"
            raise BundleFormatError(msg)
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
        msg = f"file of {len(data)} bytes is too short to be a tensor bundle index (truncated?)"
        raise BundleFormatError(msg)
    footer = data[len(data) - _FOOTER_SIZE :]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)
    if magic != _TABLE_MAGIC:
        msg = (
            f"no table magic number at byte {len(data) - 8}: not a tensor bundle "
            "index, or truncated"
        )
        raise BundleFormatError(msg)
    # The footer holds the metaindex handle then the index handle.
    _, pos = _varint(footer, 0)
    _, pos = _varint(footer, pos)
    index_block, _ = _block(data, footer, pos)
    entries = {}
    # TensorFlow's data blocks do not overlap: their sizes add up to less than
    # the file.  Checking that bounds the work a forged index can cause.
    budget = len(data)
    for _, handle in _block_entries(index_block):
        block, _ = _block(data, handle)
        budget -= len(block) + _BLOCK_TRAILER_SIZE
        if budget < 0:
            msg = "the index's data blocks overlap or repeat"
            raise BundleFormatError(msg)
        for key, value in _block_entries(block):
            if key == b"":
                continue  # BundleHeaderProto
            try:
                name = key.decode("utf-8")
            except UnicodeDecodeError as err:
                msg = f"tensor name {key[:80]!r} is not UTF-8"
                raise BundleFormatError(msg) from err
            entries[name] = _parse_entry(value)
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
        index_bytes = f.read()
    try:
        entries = read_index(index_bytes)
    except BundleFormatError as err:
        msg = f"{index_path}: {err}; {_HINT}"
        raise BundleFormatError(msg) from err
    with open(data_path, "rb") as f:
        blob = f.read()
    try:
        return _read_tensors(entries, blob)
    except BundleFormatError as err:
        msg = f"{data_path}: {err}; {_HINT}"
        raise BundleFormatError(msg) from err


def _read_tensors(entries, blob):
    """Make the arrays of ``entries`` from the data file's bytes ``blob``."""
    tensors = {}
    # TensorFlow writes each tensor once: together they fit in the data file.
    # Checking that stops a forged index from repeating a large tensor.
    budget = len(blob)
    for name, entry in entries.items():
        if entry["dtype"] == 7:  # DT_STRING: object graph, not a weight
            continue
        dtype = _TF_DTYPES.get(entry["dtype"])
        if dtype is None:
            msg = f"tensor {name!r:.80} has unsupported TensorFlow dtype {entry['dtype']}"
            raise BundleFormatError(msg)
        if entry["shard_id"] != 0:
            msg = f"tensor {name!r:.80} lives in another shard"
            raise BundleFormatError(msg)
        offset, size, shape = entry["offset"], entry["size"], entry["shape"]
        # Python integers: a forged shape cannot overflow into a small count.
        count = math.prod(shape)
        if size != count * dtype.itemsize:
            msg = f"tensor {name!r:.80}: {size} bytes do not hold shape {shape} of {dtype}"
            raise BundleFormatError(msg)
        if offset + size > len(blob):
            msg = (
                f"tensor {name!r:.80} ({size} bytes at byte {offset}) points past the "
                f"end of the {len(blob)}-byte data file"
            )
            raise BundleFormatError(msg)
        budget -= size
        if budget < 0:
            msg = (
                f"the tensors up to {name!r:.80} add up to more bytes than the "
                f"{len(blob)}-byte data file holds"
            )
            raise BundleFormatError(msg)
        if count == 0 and any(n > 2**31 for n in shape):
            msg = f"empty tensor {name!r:.80} has a dimension over 2**31: {shape}"
            raise BundleFormatError(msg)
        array = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
    return tensors
