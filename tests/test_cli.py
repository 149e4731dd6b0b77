"""The ``astromask`` command, run as users run it: in a subprocess."""

import subprocess
import sys

import pytest
from astropy.nddata import CCDData


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "astromask.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_help_lists_subcommands():
    done = _run("--help")
    assert done.returncode == 0
    assert "fetch" in done.stdout and "demo" in done.stdout


@pytest.mark.remote_data
def test_fetch_then_demo_writes_a_flagged_file(tmp_path):
    fetched = _run("fetch", "-q")
    assert fetched.returncode == 0, fetched.stderr
    out = tmp_path / "demo.fits"
    done = _run("demo", "--size", "300", "-q", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "CR" in done.stdout and "recovered" in done.stdout
    ccd = CCDData.read(out, hdu_mask="MASK", hdu_flags="FLAGS")
    assert ccd.flags.shape == (300, 300)
    assert ccd.meta["AMMODEL"] == "maximask"
    again = _run("demo", "--size", "300", "-q", "--output", str(out))
    assert again.returncode == 1
    assert "astromask: error" in again.stderr and "overwrite" in again.stderr.lower()
