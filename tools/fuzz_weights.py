"""Mutation-fuzz the pure-numpy weight readers (TF tensor bundles, ``.pth`` files).

Every case takes a small valid file written by the writers of ``tests/`` (or,
with ``--real``, an upstream file from ``$ASTROMASK_DATA_DIR``), mutates it
deterministically (truncation, byte flips, insertions, deletions, forged
integers, zip members rewritten with valid CRCs) and reads it.  A case passes
when the reader returns a valid result or raises its own format error
(`BundleFormatError`, `TorchFormatError`, `UnsafePickleError`); any other
exception, a case over the time limit, or a result larger than the input can
justify is a failure.

Usage::

    python tools/fuzz_weights.py --iterations 10000 --seed 0

Each format runs in a worker subprocess that reports every case; the parent
kills a worker whose case runs past ``--timeout`` seconds, counts a timeout
and restarts it after that case.  The workers run under an address-space
limit (``--memory-mb``), so an unbounded allocation fails instead of taking
the machine down.  Exit status 1 on any wrong-kind crash or timeout.

``tests/test_fuzz_weights.py`` imports this module and runs a smaller,
in-process version of the same cases.  Not shipped with the package.
"""

import argparse
import io
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from astromask.weights.tf_bundle import BundleFormatError, read_tf_bundle  # noqa: E402
from astromask.weights.torch_pickle import (  # noqa: E402
    TorchFormatError,
    read_torch_state_dict,
)
from tests import torch_writer  # noqa: E402
from tests.bundle_writer import write_bundle  # noqa: E402

FORMATS = ("tf-index", "tf-data", "torch-legacy", "torch-zip")
EXPECTED = {
    "tf-index": BundleFormatError,
    "tf-data": BundleFormatError,
    "torch-legacy": TorchFormatError,
    "torch-zip": TorchFormatError,
}
# A valid result may hold at most this many times the bytes of the input.
RESULT_FACTOR = 4

# Integers a forged size, offset or length field is likely to be set to.
_INTERESTING = [
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00",
    b"\xff\xff\xff\x7f",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"\xff" * 8,
    b"\xff" * 7 + b"\x7f",
    b"\xff" * 9 + b"\x01",  # varint of 2**64 - 1
    b"\x80" * 10 + b"\x01",  # varint longer than 64 bits
    b"\x80\x80\x80\x80\x04",  # varint 2**30
    b"\xff\xff\xff\xff\x0f",  # varint 2**32 - 1
]

SEED_TENSORS = {
    "conv.weight": np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3) / 7,
    "conv.bias": np.array([1.5, -2.25], dtype=np.float32),
    "double": np.linspace(0, 1, 3),
}


def seed_files(workdir):
    """Write the small seed files; return ``{format: (payload, context)}``.

    ``payload`` is the bytes that get mutated; ``context`` maps the other files
    a case needs (the data file of an index case and so on) to their bytes.
    """
    workdir = Path(workdir)
    tensors = {
        "conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE": SEED_TENSORS["conv.weight"],
        "conv1/bias/.ATTRIBUTES/VARIABLE_VALUE": SEED_TENSORS["conv.bias"],
        "step": np.array(7, dtype="i4"),
        "w64": SEED_TENSORS["double"],
    }
    write_bundle(workdir / "seed.index", workdir / "seed.data", tensors)
    index = (workdir / "seed.index").read_bytes()
    data = (workdir / "seed.data").read_bytes()
    entries, storages = torch_writer.plain_tensors(SEED_TENSORS)
    itemsizes = {str(i): a.itemsize for i, a in enumerate(SEED_TENSORS.values())}
    legacy = torch_writer.legacy_file(entries, storages, itemsizes=itemsizes)
    zipped = torch_writer.zip_file(entries, storages)
    return {
        "tf-index": (index, {"data": data}),
        "tf-data": (data, {"index": index}),
        "torch-legacy": (legacy, {}),
        "torch-zip": (zipped, {}),
    }


def real_files():
    """Upstream files from the cache, as ``[(label, format, payload, context)]``."""
    cache = os.environ.get("ASTROMASK_DATA_DIR")
    if not cache or not Path(cache).is_dir():
        return []
    out = []
    for index in sorted(Path(cache).glob("**/variables.index")):
        data = index.with_name("variables.data-00000-of-00001")
        if data.is_file():
            label = index.parents[2].name  # maximask or maxitrack
            out.append((f"real {label}", "tf-index", index.read_bytes(), {"data": data}))
            out.append(
                (f"real {label}", "tf-data", data.read_bytes(), {"index": index.read_bytes()})
            )
    for path in sorted(Path(cache).glob("**/*.pth")):
        raw = path.read_bytes()
        fmt = "torch-zip" if raw[:2] == b"PK" else "torch-legacy"
        out.append((f"real {path.stem}", fmt, raw, {}))
    return out


def _rewrite_zip(raw, rng):
    """Re-zip ``raw`` with one member mutated, truncated, dropped or renamed.

    The CRCs stay valid, so the mutation reaches the reader behind zipfile.
    """
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    which = int(rng.integers(len(members)))
    name, content = members[which]
    action = int(rng.integers(6))
    if action == 0 and content:
        content = content[: int(rng.integers(len(content)))]
    elif action == 1:
        content = mutate(content, rng, zip_aware=False)
    elif action == 2:
        del members[which]
    elif action == 3:
        name = name.replace("archive", "other", int(rng.integers(2)))
    elif action == 4:
        content = content + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), np.uint8))
    else:
        members.append(members[which])
    if action not in (2, 5):
        members[which] = (name, content)
    out = io.BytesIO()
    compression = zipfile.ZIP_DEFLATED if rng.random() < 0.2 else zipfile.ZIP_STORED
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compression) as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for member_name, member_content in members:
            zf.writestr(member_name, member_content)
    return out.getvalue()


def _forge_zip_sizes(raw, rng):
    """Overwrite a size or offset field of a zip's central directory."""
    buf = bytearray(raw)
    starts = []
    at = buf.find(b"PK\x01\x02")
    while 0 <= at < len(buf) - 46:
        starts.append(at)
        at = buf.find(b"PK\x01\x02", at + 1)
    if not starts:
        return bytes(buf)
    start = starts[int(rng.integers(len(starts)))]
    # compressed size, uncompressed size, local header offset
    field = [20, 24, 42][int(rng.integers(3))]
    value = [0xFFFFFFFF, 0x7FFFFFFF, 2**30, len(raw), 0][int(rng.integers(5))]
    struct.pack_into("<I", buf, start + field, value)
    return bytes(buf)


def mutate(payload, rng, *, zip_aware=True):
    """Return one deterministic mutation of ``payload`` drawn from ``rng``."""
    buf = bytearray(payload)
    size = len(buf)
    kind = int(rng.integers(9 if zip_aware and payload[:2] == b"PK" else 7))
    if size == 0:
        return bytes(rng.integers(0, 256, int(rng.integers(1, 16)), np.uint8))
    if kind == 0:  # truncate
        return bytes(buf[: int(rng.integers(size))])
    if kind == 1:  # random bytes
        for _ in range(int(rng.integers(1, 9))):
            buf[int(rng.integers(size))] = int(rng.integers(256))
    elif kind == 2:  # bit flips
        for _ in range(int(rng.integers(1, 5))):
            buf[int(rng.integers(size))] ^= 1 << int(rng.integers(8))
    elif kind == 3:  # insertion
        at = int(rng.integers(size + 1))
        buf[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 17)), np.uint8))
    elif kind == 4:  # deletion
        at = int(rng.integers(size))
        del buf[at : at + int(rng.integers(1, 17))]
    elif kind == 5:  # forged integer
        value = _INTERESTING[int(rng.integers(len(_INTERESTING)))]
        at = int(rng.integers(size))
        buf[at : at + len(value)] = value
    elif kind == 6:  # duplicate a span elsewhere
        at, to = int(rng.integers(size)), int(rng.integers(size))
        span = buf[at : at + int(rng.integers(1, 65))]
        buf[to:to] = span
    elif kind == 7:
        return _rewrite_zip(payload, rng)
    else:
        return _forge_zip_sizes(payload, rng)
    return bytes(buf)


def run_case(fmt, payload, context, workdir):
    """Read ``payload`` as ``fmt``; return ``(outcome, detail)``.

    ``outcome`` is ``"valid"``, ``"clean"`` (the reader's own error) or
    ``"wrong"`` (anything else, or a result larger than the input justifies).
    """
    workdir = Path(workdir)
    try:
        if fmt.startswith("tf"):
            index, data = workdir / "case.index", workdir / "case.data"
            index.write_bytes(payload if fmt == "tf-index" else context["index"])
            other = context.get("data", payload)
            if isinstance(other, Path):
                data = other
            else:
                data.write_bytes(payload if fmt == "tf-data" else other)
            inputs = index.stat().st_size + data.stat().st_size
            result = read_tf_bundle(index, data)
        else:
            path = workdir / "case.pth"
            path.write_bytes(payload)
            inputs = len(payload)
            result = read_torch_state_dict(path)
    except EXPECTED[fmt] as err:
        return "clean", str(err)[:200]
    except Exception as err:  # noqa: BLE001 -- what the fuzzer is looking for
        return "wrong", "".join(traceback.format_exception_only(err)).strip()[:500]
    if not isinstance(result, dict) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in result.items()
    ):
        return "wrong", f"returned {type(result).__name__}, not a dict of arrays"
    total = sum(v.nbytes for v in result.values())
    if total > RESULT_FACTOR * inputs:
        return "wrong", f"returned {total} bytes from {inputs} bytes of input"
    return "valid", f"{len(result)} tensors"


def case_payload(fmt, seeds, seed, index):
    """The mutated payload of case ``index``: independent of the other cases."""
    payload, context = seeds[fmt]
    rng = np.random.default_rng([seed, FORMATS.index(fmt), index])
    return mutate(payload, rng), context


def _worker(args):
    """Run cases ``[start, stop)`` of one format, one JSON line per case."""
    import resource
    import tracemalloc

    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory() as tmp:
        if args.real is not None:
            label, fmt, payload, context = real_files()[args.real]
            seeds = {fmt: (payload, context)}
        else:
            fmt = args.worker
            seeds = seed_files(tmp)
        tracemalloc.start()
        for index in range(args.start, args.stop):
            payload, context = case_payload(fmt, seeds, args.seed, index)
            print(json.dumps({"start": index}), flush=True)
            tracemalloc.reset_peak()
            began = time.perf_counter()
            outcome, detail = run_case(fmt, payload, context, tmp)
            elapsed = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1]
            inputs = len(payload) + sum(
                v.stat().st_size if isinstance(v, Path) else len(v) for v in context.values()
            )
            if outcome != "wrong" and peak > 16 * inputs + 2**24:
                outcome = "wrong"
                detail = f"allocated {peak} bytes for {inputs} bytes of input"
            line = {"i": index, "o": outcome, "t": elapsed, "d": detail}
            print(json.dumps(line), flush=True)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"maxrss_kb": maxrss}), flush=True)


def _run_format(argv_tail, iterations, timeout):
    """Drive one worker over ``iterations`` cases; return the row's counts."""
    row = {"valid": 0, "clean": 0, "wrong": 0, "timeout": 0, "max_s": 0.0, "rss_kb": 0}
    failures = []
    start = 0
    while start < iterations:
        cmd = [sys.executable, __file__, *argv_tail, "--start", str(start)]
        cmd += ["--stop", str(iterations)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        next_case = start
        deadline = time.monotonic() + timeout + 30  # imports and seeds
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 0.05)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                record = json.loads(line)
                if "maxrss_kb" in record:
                    row["rss_kb"] = max(row["rss_kb"], record["maxrss_kb"])
                    continue
                if "start" in record:  # the case is mutated: its clock starts
                    deadline = time.monotonic() + timeout
                    continue
                row[record["o"]] += 1
                row["max_s"] = max(row["max_s"], record["t"])
                if record["o"] == "wrong":
                    failures.append(f"case {record['i']}: {record['d']}")
                next_case = record["i"] + 1
                deadline = time.monotonic() + timeout + 30  # mutating the next one
            elif time.monotonic() > deadline:
                proc.kill()
                row["timeout"] += 1
                row["max_s"] = max(row["max_s"], timeout)
                failures.append(f"case {next_case}: over {timeout} s")
                next_case += 1
                break
        proc.wait()
        if proc.returncode not in (0, -9) and next_case < iterations:
            row["wrong"] += 1
            failures.append(f"case {next_case}: worker died ({proc.returncode})")
            next_case += 1
        start = next_case
    return row, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10000, help="cases per format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per case")
    parser.add_argument(
        "--real-iterations",
        type=int,
        default=None,
        help="cases per upstream file in the cache (default: iterations // 20)",
    )
    parser.add_argument("--memory-mb", type=int, default=4096, help="worker address space")
    parser.add_argument("--worker", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--real", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker or args.real is not None:
        _worker(args)
        return 0
    common = ["--seed", str(args.seed), "--memory-mb", str(args.memory_mb)]
    jobs = [(fmt, fmt, ["--worker", fmt], args.iterations) for fmt in FORMATS]
    real_n = args.iterations // 20 if args.real_iterations is None else args.real_iterations
    for i, (label, fmt, _, _) in enumerate(real_files()):
        jobs.append((label, fmt, ["--real", str(i)], real_n))
    header = (
        f"{'reader':<12} {'input':<34} {'iterations':>10} {'valid':>7} {'clean':>7} "
        f"{'wrong':>6} {'timeouts':>8} {'max case s':>10} {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    bad = 0
    for label, fmt, tail, iterations in jobs:
        if iterations <= 0:
            continue
        row, failures = _run_format(tail + common, iterations, args.timeout)
        source = "seed (tests/ writers)" if label == fmt else label[5:][:34]
        print(
            f"{fmt:<12} {source:<34} {iterations:>10} {row['valid']:>7} "
            f"{row['clean']:>7} {row['wrong']:>6} {row['timeout']:>8} "
            f"{row['max_s']:>10.3f} {row['rss_kb'] / 1024:>11.0f}",
            flush=True,
        )
        for failure in failures[:10]:
            print(f"    {failure}")
        bad += row["wrong"] + row["timeout"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
