"""The command line over a batch with damaged files among good ones.

One batch (`batch`) serves the module: good frames (small, so the networks
are quick), a multi-extension file, a Rice-compressed ``.fits.fz`` and a
gzipped ``.fits.gz``, among random bytes, truncated files, an empty file, a
header-only file, a table-only file, a 1-D image, a folder named like a FITS
file and a missing path.  ``flag`` (serial, and once with ``--workers 2``),
``track`` and ``cosmicray`` run on all of it, each into its own folder, and
every run checks the same contract:

* every good file gets its output, which opens and has the expected HDUs;
* every bad file gets exactly one line, ``astromask: FILE: why``;
* the exit status is 1 (`astromask.cli.EXIT_FAILED`) when anything failed,
  0 otherwise; 130 after Ctrl-C (SIGINT);
* no input file changes (bytes and modification time);
* an existing output is kept, byte for byte, without ``--overwrite``.

Then ``astromask flag`` is interrupted (SIGINT, SIGKILL) after its first
output: every output under its final name is complete, and temporaries are
removed (SIGINT) or hidden, never named like an output, and removed by the
next run (SIGKILL).
"""

import errno
import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from astromask import cli
from astromask.io.paths import is_fits_name
from tests.conftest import run_cli, sha256_file

pytestmark = pytest.mark.remote_data  # the networks' weights

SIDE = 64  # small frames: the networks are quick
BIG = 400  # MaxiTrack's smallest frame

# name -> the HDUs the flag output has: (class name, data shape or None)
FLAG_GOOD = {
    "good0.fits": [("PrimaryHDU", (SIDE, SIDE))],
    "good1.fits": [("PrimaryHDU", (SIDE, SIDE))],
    "mef.fits": [
        ("PrimaryHDU", None),
        ("ImageHDU", (SIDE, SIDE)),
        ("ImageHDU", (SIDE, SIDE)),
        ("BinTableHDU", (2,)),
    ],
    "comp.fits.fz": [("PrimaryHDU", None), ("ImageHDU", (BIG, BIG))],
    "gz.fits.gz": [("PrimaryHDU", (SIDE, SIDE))],
}
# name -> what the line of a bad file says (for flag)
FLAG_BAD = {
    "random.fits": "cannot read as FITS: it does not start with a SIMPLE card",
    "truncated-data.fits": "truncated FITS file: actual file length (6880) is smaller",
    "truncated-header.fits": "cannot read as FITS: Empty or corrupt FITS file (its 1000 bytes",
    "empty.fits": "empty file (0 bytes), not FITS",
    "header-only.fits": "no 2-D or 3-D image HDU to flag (HDU 0: header only)",
    "table.fits": "no 2-D or 3-D image HDU to flag (HDU 0: header only, HDU 1: BinTableHDU)",
    "line.fits": "no 2-D or 3-D image HDU to flag (HDU 0: 1-D image)",
    "folder.fits": "is a folder with no FITS file in it",
    "missing.fits": "no such file",
}
# The same files for cosmicray: its own words where the HDUs are the reason.
COSMICRAY_BAD = {
    name: reason.replace("2-D or 3-D image HDU to flag", "2-D science image HDU to clean")
    for name, reason in FLAG_BAD.items()
}
# track scores frames of at least 400x400 pixels: the others are too small.
TRACK_GOOD = {"comp.fits.fz": ["1"]}
TOO_SMALL = "no image HDU that MaxiTrack can score (HDU {}: "
TRACK_BAD = {
    **{
        name: reason.replace("2-D or 3-D image HDU to flag", "2-D or 3-D image HDU to score")
        for name, reason in FLAG_BAD.items()
    },
    "good0.fits": TOO_SMALL.format(0),
    "good1.fits": TOO_SMALL.format(0),
    "gz.fits.gz": TOO_SMALL.format(0),
    "mef.fits": TOO_SMALL.format(1),
}
LINE = re.compile(r"astromask: [^\r\n]*")  # a progress bar may share its line


def _frame(rng, side=SIDE):
    """Sky, noise and a few stars, float32."""
    data = 1000 + rng.normal(0, 10, (side, side))
    yy, xx = np.mgrid[:side, :side]
    for y, x in rng.uniform(8, side - 8, (3, 2)):
        data += 5000 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 4)
    return data.astype(np.float32)


def _write_batch(folder):
    rng = np.random.default_rng(5)
    for name in ("good0.fits", "good1.fits"):
        fits.PrimaryHDU(_frame(rng)).writeto(folder / name)
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(_frame(rng), name="SCI", ver=1),
            fits.ImageHDU(_frame(rng), name="SCI", ver=2),
            fits.BinTableHDU(Table({"x": [1.0, 2.0]}), name="CAT"),
        ]
    ).writeto(folder / "mef.fits")
    fits.HDUList(
        [fits.PrimaryHDU(), fits.CompImageHDU(_frame(rng, BIG), compression_type="RICE_1")]
    ).writeto(folder / "comp.fits.fz")
    good = (folder / "good0.fits").read_bytes()
    assert len(good) == 20160  # header block + 64*64*4 bytes of data, padded
    (folder / "gz.fits.gz").write_bytes(gzip.compress(good))
    (folder / "random.fits").write_bytes(rng.bytes(2 * 2880))
    (folder / "truncated-data.fits").write_bytes(good[: 2880 + 4000])
    (folder / "truncated-header.fits").write_bytes(good[:1000])
    (folder / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU().writeto(folder / "header-only.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"y": [1, 2]}))]).writeto(
        folder / "table.fits"
    )
    fits.PrimaryHDU(np.arange(100, dtype=np.float32)).writeto(folder / "line.fits")
    (folder / "folder.fits").mkdir()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The inputs' folder and the command-line paths of the batch, in order."""
    folder = tmp_path_factory.mktemp("batch")
    _write_batch(folder)
    names = [*FLAG_GOOD, *FLAG_BAD]
    return folder, [str(folder / name) for name in names]


def _snapshot(folder):
    """Bytes and modification time of every file under ``folder``."""
    return {
        path.name: (sha256_file(path), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


@pytest.fixture
def untouched(batch):
    """Checks, after the test, that no input file changed."""
    folder, _ = batch
    before = _snapshot(folder)
    yield
    assert _snapshot(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FLAG_GOOD, *FLAG_BAD][:-1])


def _report_lines(stderr):
    return LINE.findall(stderr)


def _assert_one_line_per_bad_file(stderr, folder, reasons):
    lines = _report_lines(stderr)
    assert len(lines) == len(reasons), "\n".join(lines)
    for name, reason in reasons.items():
        mine = [line for line in lines if line.startswith(f"astromask: {folder / name}: ")]
        assert len(mine) == 1, (name, lines)
        assert reason in mine[0], (name, mine[0])


def _hdus(path):
    """``[(class name, data shape or None)]`` of a FITS file, checked complete."""
    with fits.open(path) as hdul:
        hdul.verify("exception")
        return [(type(h).__name__, None if h.data is None else h.data.shape) for h in hdul]


def _flag_output(name):
    for ext in (".fz", ".gz"):
        name = name.removesuffix(ext)
    return name.replace(".fits", ".mask.fits")


def _run(capsys, *args):
    """``astromask ARGS`` in this process: ``(status, stdout, stderr)``."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------
# flag, track, cosmicray over the batch


def test_flag_reports_every_bad_file_and_writes_every_good_one(batch, untouched, tmp_path, capsys):
    folder, paths = batch
    status, out, err = _run(capsys, "flag", *paths, "--output-dir", tmp_path)
    assert status == cli.EXIT_FAILED == 1
    _assert_one_line_per_bad_file(err, folder, FLAG_BAD)
    listed = out.splitlines()
    assert listed == [f"{folder / n} -> {tmp_path / _flag_output(n)}" for n in FLAG_GOOD]
    # Nothing else in the folder: no output for a bad file, no temporary left.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(map(_flag_output, FLAG_GOOD))
    for name, hdus in FLAG_GOOD.items():
        assert _hdus(tmp_path / _flag_output(name)) == hdus
    with fits.open(tmp_path / "mef.mask.fits") as hdul:
        assert hdul[1].header["AMB_CR"] == 1 and hdul[1].data.dtype == np.uint16
        assert hdul["CAT"].data["x"].tolist() == [1.0, 2.0]


def test_flag_keeps_existing_outputs_unless_overwrite(batch, untouched, tmp_path, capsys):
    folder, _ = batch
    paths = [folder / "good0.fits", folder / "good1.fits"]
    kept = tmp_path / "good0.mask.fits"
    kept.write_bytes(b"an older output, whatever it holds")
    status, _, err = _run(capsys, "flag", *paths, "--output-dir", tmp_path, "-q")
    assert status == 1
    assert _report_lines(err) == [
        f"astromask: {paths[0]}: output {kept} exists; add --overwrite to replace it"
    ]
    assert kept.read_bytes() == b"an older output, whatever it holds"
    assert _hdus(tmp_path / "good1.mask.fits") == FLAG_GOOD["good1.fits"]
    status, out, err = _run(capsys, "flag", *paths, "--output-dir", tmp_path, "-q", "--overwrite")
    assert (status, out, _report_lines(err)) == (0, "", [])
    assert _hdus(kept) == FLAG_GOOD["good0.fits"]
    # The same output twice in one run: the second job does not replace the first.
    status, _, err = _run(capsys, "flag", paths[0], paths[0], "--output-dir", tmp_path, "-q")
    assert status == 1
    assert [line.split(": ", 2)[2] for line in _report_lines(err)] == [
        f"output {kept} exists; add --overwrite to replace it",
        f"output {kept} is also the output of {paths[0]}",
    ]


def test_flag_on_a_local_cluster_reports_like_the_serial_run(batch, untouched, tmp_path):
    # Every bad file, and one good one: the workers' start-up is the slow part.
    pytest.importorskip("distributed")
    folder, _ = batch
    paths = [folder / "good0.fits", *(folder / name for name in FLAG_BAD)]
    done = run_cli("flag", *paths, "--workers", "2", "--output-dir", tmp_path, timeout=600)
    assert done.returncode == 1, done.stderr
    _assert_one_line_per_bad_file(done.stderr, folder, FLAG_BAD)
    assert done.stdout == f"{paths[0]} -> {tmp_path / 'good0.mask.fits'}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["good0.mask.fits"]
    assert _hdus(tmp_path / "good0.mask.fits") == FLAG_GOOD["good0.fits"]


def test_cosmicray_reports_every_bad_file_and_cleans_every_good_one(
    batch, untouched, tmp_path, capsys
):
    folder, paths = batch
    status, _, err = _run(capsys, "cosmicray", *paths, "--output-dir", tmp_path, "-q")
    assert status == 1
    _assert_one_line_per_bad_file(err, folder, COSMICRAY_BAD)
    outputs = {name: _flag_output(name).replace(".mask.", ".clean.") for name in FLAG_GOOD}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(outputs.values())
    frame, mask = (SIDE, SIDE), ("ImageHDU", (SIDE, SIDE))
    expected = {
        "good0.fits": [("PrimaryHDU", frame), mask],
        "good1.fits": [("PrimaryHDU", frame), mask],
        "gz.fits.gz": [("PrimaryHDU", frame), mask],
        "mef.fits": [("PrimaryHDU", None), ("ImageHDU", frame), mask, ("ImageHDU", frame)]
        + [mask, ("BinTableHDU", (2,))],
        "comp.fits.fz": [("PrimaryHDU", None), ("ImageHDU", (BIG, BIG)), ("ImageHDU", (BIG, BIG))],
    }
    for name, output in outputs.items():
        assert _hdus(tmp_path / output) == expected[name], name
    with fits.open(tmp_path / "mef.clean.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "CRMASK", "SCI", "CRMASK", "CAT"]


def test_track_reports_every_bad_file_and_scores_every_good_one(batch, untouched, tmp_path, capsys):
    folder, paths = batch
    ecsv = tmp_path / "scores.ecsv"
    status, out, err = _run(capsys, "track", *paths, "--ecsv", ecsv, "-q")
    assert status == 1
    _assert_one_line_per_bad_file(err, folder, TRACK_BAD)
    table = Table.read(ecsv, format="ascii.ecsv")
    assert [(row["file"], row["hdu"]) for row in table] == [
        (str(folder / name), hdu) for name, hdus in TRACK_GOOD.items() for hdu in hdus
    ]
    assert ((table["score"] >= 0) & (table["score"] <= 1)).all()
    assert "comp.fits.fz" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.ecsv"]  # no temporary
    # An existing table is refused before any work, and kept.
    written = sha256_file(ecsv)
    status, _, err = _run(capsys, "track", folder / "comp.fits.fz", "--ecsv", ecsv, "-q")
    assert status == 1
    assert _report_lines(err) == [f"astromask: {ecsv} exists; add --overwrite to replace it"]
    assert sha256_file(ecsv) == written


def test_unreadable_file_is_reported(batch, tmp_path, capsys, monkeypatch):
    folder, _ = batch
    locked = tmp_path / "locked.fits"
    locked.write_bytes((folder / "good0.fits").read_bytes())
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads whatever the permissions: answer as the kernel
        real_open = fits.open

        def refusing_open(name, *args, **kwargs):
            if Path(name) == locked:
                raise PermissionError(errno.EACCES, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(fits, "open", refusing_open)
    try:
        status, _, err = _run(capsys, "flag", locked, "--output-dir", tmp_path / "out", "-q")
    finally:
        locked.chmod(0o600)
    assert status == 1
    assert _report_lines(err) == [
        f"astromask: {locked}: cannot open it: permission denied; check its permissions"
    ]
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------
# Interrupted runs


# ``astromask flag`` as a terminal runs it, with Ctrl-C raising KeyboardInterrupt:
# a run started in the background of a script (as CI may be) inherits SIGINT
# ignored, and Python then keeps it so.  (Not Popen's preexec_fn: it forks a
# multithreaded parent, which JAX warns of.)
_CLI_WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from astromask.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _start_and_stop(tmp_path, batch, how):
    """Run ``astromask flag`` on 8 frames; send ``how`` once its first output exists.

    Returns ``(process, inputs, outputs folder, stderr)`` once it has ended.
    """
    folder, _ = batch
    inputs = tmp_path / "in"
    inputs.mkdir()
    frame = (folder / "good0.fits").read_bytes()
    for number in range(8):
        (inputs / f"frame{number}.fits").write_bytes(frame)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", _CLI_WITH_CTRL_C, "flag", str(inputs), "--output-dir", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not any(out.glob("*.mask.fits")):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "no output after 300 s"
            time.sleep(0.02)
        process.send_signal(how)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process, inputs, out, stderr


def _assert_outputs_complete(out):
    """Every file under a final output name opens whole; the names of the others."""
    others = []
    for path in out.iterdir():
        if is_fits_name(path.name):
            assert _hdus(path) == FLAG_GOOD["good0.fits"], path
        else:
            others.append(path.name)
    return others


def test_ctrl_c_exits_130_and_leaves_complete_outputs_only(batch, tmp_path):
    process, inputs, out, stderr = _start_and_stop(tmp_path, batch, signal.SIGINT)
    assert process.returncode == cli.EXIT_INTERRUPTED == 130, stderr
    assert "astromask: interrupted: outputs written so far are complete" in stderr
    assert "Traceback" not in stderr
    assert _assert_outputs_complete(out) == []  # no temporary left
    assert 1 <= len(list(out.iterdir())) < 8


def test_a_killed_run_leaves_no_partial_output_and_the_next_run_cleans_up(batch, tmp_path, capsys):
    process, inputs, out, _ = _start_and_stop(tmp_path, batch, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    # A temporary the killed process may have left: hidden, and named after
    # it, never like an output.  Leave one as if it was killed while writing.
    stale = out / f".frame7.mask.fits.astromask-{socket.gethostname()}-{process.pid}.part"
    stale.write_bytes((inputs / "frame0.fits").read_bytes()[:3000])
    others = _assert_outputs_complete(out)
    assert stale.name in others
    assert all(re.fullmatch(r"\..+\.astromask-.+-\d+\.part", name) for name in others)
    done = sorted(p.name for p in out.glob("*.mask.fits"))
    assert 1 <= len(done) < 8
    # Run again: the outputs there are kept and reported, the others written,
    # the killed process's temporaries removed.
    status, _, err = _run(capsys, "flag", inputs, "--output-dir", out, "-q")
    assert status == 1
    lines = _report_lines(err)
    assert len(lines) == len(done)
    assert all(line.endswith("exists; add --overwrite to replace it") for line in lines)
    assert _assert_outputs_complete(out) == []
    assert len(list(out.iterdir())) == 8
