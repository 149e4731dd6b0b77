"""Mutation fuzzing of the weight readers: only clean errors, no hangs, no bombs.

A case ends well when the reader returns a valid result (a dict of arrays no
larger than a few times the input) or raises its own format error
(`BundleFormatError`, `TorchFormatError`, `UnsafePickleError`).  Anything else
(IndexError, struct.error, MemoryError, RecursionError, ...), a case over
2 s, or an allocation the file's size cannot justify is a bug.  The cases
are the deterministic ones of ``tools/fuzz_weights.py``, which runs many more.
"""

import importlib.util
import pickle
import re
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from astromask.weights.tf_bundle import BundleFormatError, read_tf_bundle
from astromask.weights.torch_pickle import (
    TorchFormatError,
    UnsafePickleError,
    read_torch_state_dict,
)
from tests import bundle_writer as bw
from tests import torch_writer as tw

_SPEC = importlib.util.spec_from_file_location(
    "fuzz_weights", Path(__file__).resolve().parents[1] / "tools" / "fuzz_weights.py"
)
fuzz = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fuzz)

CASE_SECONDS = 2.0
MUTATIONS = {"tf-index": 400, "tf-data": 200, "torch-legacy": 300, "torch-zip": 300}
# Every offset of the small seeds; every 3rd of the larger torch files.
TRUNCATION_STEP = {"tf-index": 1, "tf-data": 1, "torch-legacy": 3, "torch-zip": 3}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fuzz.seed_files(tmp_path_factory.mktemp("seeds"))


def _run(fmt, payload, context, workdir, counts):
    began = time.perf_counter()
    outcome, detail = fuzz.run_case(fmt, payload, context, workdir)
    elapsed = time.perf_counter() - began
    assert outcome != "wrong", detail
    assert elapsed < CASE_SECONDS, f"{fmt} case took {elapsed:.2f} s"
    counts[outcome] += 1
    return outcome, detail


@pytest.mark.parametrize("fmt", fuzz.FORMATS)
def test_seed_reads(seeds, tmp_path, fmt):
    payload, context = seeds[fmt]
    outcome, detail = fuzz.run_case(fmt, payload, context, tmp_path)
    assert outcome == "valid", detail


@pytest.mark.parametrize("fmt", fuzz.FORMATS)
def test_every_truncation_is_a_clean_error(seeds, tmp_path, fmt):
    payload, context = seeds[fmt]
    counts = {"valid": 0, "clean": 0}
    lengths = range(0, len(payload), TRUNCATION_STEP[fmt])
    for length in lengths:
        outcome, detail = _run(fmt, payload[:length], context, tmp_path, counts)
        assert outcome == "clean", f"truncated at {length}: {detail}"
    assert counts["clean"] == len(lengths) > 100


@pytest.mark.parametrize("fmt", fuzz.FORMATS)
def test_random_mutations(seeds, tmp_path, fmt):
    counts = {"valid": 0, "clean": 0}
    for index in range(MUTATIONS[fmt]):
        payload, context = fuzz.case_payload(fmt, seeds, 20240611, index)
        _run(fmt, payload, context, tmp_path, counts)
    assert sum(counts.values()) == MUTATIONS[fmt]
    # The mutations reach both outcomes: the fuzzing is not all rejected early.
    assert counts["valid"] > 0
    assert counts["clean"] > 0


def test_zip_member_mutations(seeds, tmp_path):
    """Members rewritten with valid CRCs, and forged central-directory sizes."""
    payload, _ = seeds["torch-zip"]
    counts = {"valid": 0, "clean": 0}
    for index in range(100):
        rng = np.random.default_rng([7, index])
        mutated = fuzz._rewrite_zip(payload, rng)
        _run("torch-zip", mutated, {}, tmp_path, counts)
        forged = fuzz._forge_zip_sizes(payload, rng)
        _run("torch-zip", forged, {}, tmp_path, counts)
    assert sum(counts.values()) == 200
    assert counts["valid"] > 0 and counts["clean"] > 0


# -- forged size fields: refused before anything large is allocated ----------


def _peak_bytes(function, *args):
    """Run ``function``; return (exception, peak traced bytes)."""
    tracemalloc.start()
    try:
        function(*args)
    except Exception as err:  # noqa: BLE001 -- returned to the test
        return err, tracemalloc.get_traced_memory()[1]
    else:
        return None, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _assert_refused(error_type, match, function, *args):
    err, peak = _peak_bytes(function, *args)
    assert isinstance(err, error_type), repr(err)
    assert match in str(err)
    assert peak < 2**22, f"allocated {peak} bytes"


def _write_index(path, items):
    """An index file holding ``items`` (key, BundleEntryProto bytes), sorted."""
    block = bw._block([(b"", bw._field(1, 0, 1)), *sorted(items)])
    index = bytearray(block) + bytes(5)
    index_block = bw._block([(b"\xff", bw._varint(0) + bw._varint(len(block)))])
    index_offset = len(index)
    index += index_block + bytes(5)
    meta_offset = len(index)
    index += bw._block([]) + bytes(5)
    footer = bw._varint(meta_offset) + bw._varint(8)
    footer += bw._varint(index_offset) + bw._varint(len(index_block))
    index += footer.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    path.write_bytes(bytes(index))


def _entry_with_dims(dims_bytes, offset=0, size=0, dtype=1):
    return (
        bw._field(1, 0, dtype)
        + bw._field(2, 2, dims_bytes)
        + bw._field(4, 0, offset)
        + bw._field(5, 0, size)
    )


def _dims(*sizes):
    return b"".join(bw._field(2, 2, bw._field(1, 0, d)) for d in sizes)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (bw._entry(1, (10**6, 10**6), 0, 4 * 10**12), "points past the end"),
        (bw._entry(1, (2**32, 2**32), 0, 0), "do not hold"),  # int64 product is 0
        (bw._entry(1, (2**62, 4), 0, 0), "do not hold"),
        (_entry_with_dims(_dims(2**64 - 1, 3)), "unknown (negative) dimension"),
        (bw._entry(1, (3,), 2**62, 12), "points past the end"),
        (bw._entry(1, (3,), 8, 12), "points past the end"),
        (_entry_with_dims(_dims(*[1] * 40), size=4), "over 32 dimensions"),
        (_entry_with_dims(_dims(0, 2**40)), "dimension over 2**31"),
        (bw._field(1, 0, 1) + bw._field(2, 0, 5), "wire type 0, expected 2"),
        (bw._field(1, 0, 1) + bw._field(4, 2, b"xx"), "wire type 2, expected 0"),
        (bw._field(1, 0, 1) + b"\x20" + b"\xff" * 10 + b"\x01", "longer than 64 bits"),
        (bw._field(1, 0, 1) + b"\x12\xff\xff\xff\xff\x0f", "runs past"),
    ],
    ids=[
        "1e12 elements",
        "int64 overflow",
        "int64 overflow 2",
        "negative dim",
        "huge offset",
        "offset+size",
        "40 dims",
        "empty huge dim",
        "shape as varint",
        "offset as bytes",
        "huge varint",
        "huge length",
    ],
)
def test_forged_tf_entry_is_refused_without_allocating(tmp_path, entry, match):
    _write_index(tmp_path / "v.index", [(b"w", entry)])
    (tmp_path / "v.data").write_bytes(bytes(16))
    _assert_refused(
        BundleFormatError, match, read_tf_bundle, tmp_path / "v.index", tmp_path / "v.data"
    )


def test_tf_index_repeating_a_tensor_is_refused(tmp_path):
    """Many names pointing at the same bytes would multiply the data file."""
    items = [(f"w{i:03d}".encode(), bw._entry(1, (256,), 0, 1024)) for i in range(100)]
    _write_index(tmp_path / "v.index", items)
    (tmp_path / "v.data").write_bytes(bytes(1024))
    _assert_refused(
        BundleFormatError,
        "more bytes than",
        read_tf_bundle,
        tmp_path / "v.index",
        tmp_path / "v.data",
    )


def test_tf_non_utf8_name_and_message(tmp_path):
    _write_index(tmp_path / "v.index", [(b"\xff\xfe", bw._entry(1, (1,), 0, 4))])
    (tmp_path / "v.data").write_bytes(bytes(4))
    with pytest.raises(BundleFormatError, match="not UTF-8") as info:
        read_tf_bundle(tmp_path / "v.index", tmp_path / "v.data")
    assert str(tmp_path / "v.index") in str(info.value)
    assert "astromask fetch" in str(info.value)


def _pickle_file(tmp_path, body, name="w.pth"):
    path = tmp_path / name
    path.write_bytes(tw.zip_file({}, {}, pickle_bytes=b"\x80\x04" + body))
    return path


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"\x8e" + struct.pack("<Q", 2**40) + b"ab.", "corrupt or truncated"),  # BINBYTES8
        (b"\x8d" + struct.pack("<Q", 2**40) + b"ab.", "corrupt or truncated"),  # BINUNICODE8
        (b"B" + struct.pack("<I", 2**31) + b"ab.", "corrupt or truncated"),  # BINBYTES
        (b"\x96" + struct.pack("<Q", 2**40) + b".", "bytearray8"),
        (b"}r" + struct.pack("<I", 2**31 - 1) + b".", "bad memo index"),  # memo bomb
        (b"}p4000000000\n.", "bad memo index"),
        (b"\x95" + struct.pack("<Q", 2**40) + b"}.", "runs past the end"),  # FRAME
        (b"\x8b" + struct.pack("<i", 2**20) + b"\x01" * 64 + b".", "corrupt or truncated"),
        (b"\x8b" + struct.pack("<i", 4096) + b"\x01" * 4096 + b".", "integer of"),
    ],
    ids=[
        "BINBYTES8",
        "BINUNICODE8",
        "BINBYTES",
        "BYTEARRAY8",
        "LONG_BINPUT",
        "PUT",
        "FRAME",
        "LONG4 truncated",
        "LONG4 huge",
    ],
)
def test_forged_pickle_length_is_refused_without_allocating(tmp_path, body, match):
    """Counted strings, memo indices and frames: the C unpickler would allocate."""
    path = _pickle_file(tmp_path, body)
    err, peak = _peak_bytes(read_torch_state_dict, path)
    assert isinstance(err, TorchFormatError), repr(err)
    assert re.search(match, str(err)), str(err)
    assert peak < 2**22, f"allocated {peak} bytes"


@pytest.mark.parametrize(
    ("numel", "offset", "size", "stride", "match"),
    [
        (1, 0, (2**20, 2**20), (0, 0), "more than its storage"),  # 4 TB of copies
        (4, 0, (0, 2**62), (1, 1), "dimension over"),
        (4, 2**62, (1,), (1,), "runs past"),
        (4, 0, (3,), (2**62,), "runs past"),
        (4, 0, (2, 2), (2, 1, 1), "differ in length"),
        (4, -1, (2,), (1,), "integer >= 0"),
        (4, 0, (-2,), (1,), "integer >= 0"),
    ],
)
def test_forged_tensor_geometry(tmp_path, numel, offset, size, stride, match):
    entries = {"w": tw.tensor_opcodes("0", np.float32, numel, offset, size, stride)}
    raw = tw.zip_file(entries, {"0": np.ones(numel, np.float32).tobytes()})
    path = tmp_path / "w.pth"
    path.write_bytes(raw)
    _assert_refused(TorchFormatError, match, read_torch_state_dict, path)


def test_unused_stride_of_a_length_one_dimension_is_ignored(tmp_path):
    entries = {"w": tw.tensor_opcodes("0", np.float32, 4, 1, (1, 3), (2**62, 1))}
    raw = tw.zip_file(entries, {"0": np.arange(4, dtype=np.float32).tobytes()})
    (tmp_path / "w.pth").write_bytes(raw)
    got = read_torch_state_dict(tmp_path / "w.pth")
    np.testing.assert_array_equal(got["w"], [[1, 2, 3]])


def test_many_views_of_one_storage_are_refused(tmp_path):
    """Repeated full views would multiply the storage without bound."""
    view = tw.tensor_opcodes("0", np.float32, 1024, 0, (1024,), (1,))
    entries = {f"w{i}": view for i in range(50)}
    raw = tw.zip_file(entries, {"0": np.ones(1024, np.float32).tobytes()})
    (tmp_path / "w.pth").write_bytes(raw)
    _assert_refused(TorchFormatError, "times the bytes", read_torch_state_dict, tmp_path / "w.pth")


def test_zip_bomb_is_refused(tmp_path):
    """A deflated storage claiming 8 MB of zeros in an 8 kB file."""
    entries = {"w": tw.tensor_opcodes("0", np.float32, 2**21, 0, (2**21,), (1,))}
    path = tmp_path / "w.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", tw.state_dict_pickle(entries))
        zf.writestr("archive/data/0", bytes(2**23))
    assert path.stat().st_size < 2**15
    _assert_refused(TorchFormatError, "zip bomb", read_torch_state_dict, path)


@pytest.mark.parametrize("field", [20, 24, 42])
@pytest.mark.parametrize("value", [0xFFFFFFFF, 2**30])
def test_forged_zip_directory_sizes(tmp_path, field, value):
    entries, storages = tw.plain_tensors({"w": np.ones(8, np.float32)})
    raw = bytearray(tw.zip_file(entries, storages))
    for start in range(len(raw) - 46):
        if raw[start : start + 4] == b"PK\x01\x02":
            struct.pack_into("<I", raw, start + field, value)
    (tmp_path / "w.pth").write_bytes(bytes(raw))
    err, peak = _peak_bytes(read_torch_state_dict, tmp_path / "w.pth")
    assert isinstance(err, TorchFormatError), repr(err)
    assert peak < 2**22


def test_deep_and_cyclic_dicts(tmp_path):
    deep = b"\x80\x02" + b"X\x01\x00\x00\x00a}" * 3000 + b"s" * 2999 + b"."
    path = tmp_path / "deep.pth"
    path.write_bytes(tw.zip_file({}, {}, pickle_bytes=deep))
    with pytest.raises(TorchFormatError, match="levels deep"):
        read_torch_state_dict(path)
    cyclic = b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s."  # d["a"] = d
    path.write_bytes(tw.zip_file({}, {}, pickle_bytes=cyclic))
    with pytest.raises(TorchFormatError, match="cycle"):
        read_torch_state_dict(path)


@pytest.mark.parametrize(
    "body",
    [
        b"}K\x01K\x02s.",  # int key
        b"}(K\x01K\x02u.",  # SETITEMS
        b"(K\x01K\x02d.",  # DICT
        b"}(K\x01K\x02\x8f(\x91u.",  # FROZENSET opcode
    ],
)
def test_non_string_keys_are_refused(tmp_path, body):
    with pytest.raises(TorchFormatError):
        read_torch_state_dict(_pickle_file(tmp_path, body))


# -- never execute code --------------------------------------------------------


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


def _marker_command(marker):
    return f"touch {marker}"


def _evil_pickles(marker):
    """Pickles that, with `pickle.loads`, create ``marker``: one per trick."""
    cmd = tw._str(_marker_command(marker))
    glob = tw._global
    return {
        "GLOBAL os.system": b"\x80\x02" + glob("os", "system") + tw._tuple([cmd]) + b"R.",
        "__reduce__": pickle.dumps(_Evil(_marker_command(marker)), protocol=2),
        "__reduce__ p4": pickle.dumps(_Evil(_marker_command(marker)), protocol=4),
        "eval": b"\x80\x02"
        + glob("builtins", "eval")
        + tw._tuple([tw._str(f"__import__('os').system({_marker_command(marker)!r})")])
        + b"R.",
        "INST": b"(" + cmd + b"ios\nsystem\n.",
        "OBJ": b"\x80\x02(" + glob("os", "system") + cmd + b"o.",
        "STACK_GLOBAL": b"\x80\x04\x8c\x02os\x8c\x06system\x93" + tw._tuple([cmd]) + b"R.",
        "persistent id": b"\x80\x02"
        + tw._tuple([tw._str("storage"), glob("os", "system"), cmd, tw._str("cpu"), tw._int(1)])
        + b"Q.",
        "rebuild_tensor of os.system": b"\x80\x02"
        + glob("torch._utils", "_rebuild_tensor_v2")
        + tw._tuple([glob("os", "system"), cmd])
        + b"R.",
        "rebuild_tensor BUILD": b"\x80\x02"
        + glob("torch._utils", "_rebuild_tensor_v2")
        + b"}(X\x08\x00\x00\x00function"
        + glob("os", "system")
        + b"ub.",
    }


@pytest.mark.parametrize("trick", list(_evil_pickles(Path("m"))))
@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_malicious_pickles_never_run(tmp_path, trick, container):
    marker = tmp_path / "pwned"
    evil = _evil_pickles(marker)[trick]
    if container == "zip":
        raw = tw.zip_file({}, {}, pickle_bytes=evil)
    else:
        entries, storages = tw.plain_tensors({"w": np.ones(2, np.float32)})
        raw = tw.legacy_file(entries, storages).replace(tw.state_dict_pickle(entries), evil)
    path = tmp_path / "w.pth"
    path.write_bytes(raw)
    with pytest.raises(UnsafePickleError, match="refusing|opcode|modify"):
        read_torch_state_dict(path)
    assert not marker.exists()


def test_build_cannot_modify_stand_ins(tmp_path):
    """BUILD on a rebuilt tensor would bypass the bounds checks."""
    tensor = tw.tensor_opcodes("0", np.float32, 4, 0, (4,), (1,))
    state = b"}(X\x04\x00\x00\x00size" + tw._tuple([tw._int(2**40)]) + b"ub"
    body = b"\x80\x02" + tw._ordered_dict() + tw._str("w") + tensor + state + b"s."
    raw = tw.zip_file({}, {"0": np.ones(4, np.float32).tobytes()}, pickle_bytes=body)
    (tmp_path / "w.pth").write_bytes(raw)
    _assert_refused(UnsafePickleError, "(BUILD)", read_torch_state_dict, tmp_path / "w.pth")


@pytest.mark.parametrize(
    "args",
    [
        [tw._str("x"), tw._int(0), b")", b")"],  # storage is a str
        [b"}", tw._int(0), b")", b")"],  # storage is a dict
        [tw._int(1)],  # too few arguments
    ],
)
def test_rebuild_tensor_with_weird_arguments(tmp_path, args):
    body = b"\x80\x02" + tw._global("torch._utils", "_rebuild_tensor_v2") + tw._tuple(args)
    with pytest.raises(TorchFormatError):
        read_torch_state_dict(_pickle_file(tmp_path, body + b"R."))
