"""An astronomer's first day, end to end, in fresh processes, on real frames.

The path a new user takes with the README and the docs: read a raw frame,
subtract the overscan and trim with ccdproc, flag, track and clean cosmic
rays, write with ``CCDData.write`` and read back; then the command line on
a folder, a new frame, and a re-run.  Every step runs in its own Python
process, as a user's script or shell would, so that what a process prints
(start-up chatter included) is checked too.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from astropy.io import fits

pytestmark = pytest.mark.remote_data

SCRIPT = """
import numpy as np
import ccdproc
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.wcs import WCS

import astromask

# 1. a raw frame
raw = CCDData.read("{raw}", unit="adu")
header = raw.header

# 2. overscan and trim with ccdproc
ccd = ccdproc.subtract_overscan(raw, fits_section=header["BIASSEC"], overscan_axis=1,
                                median=True)
ccd = ccdproc.trim_image(ccd, fits_section=header["TRIMSEC"])
ccd = ccdproc.gain_correct(ccd, header["GAIN"] * u.electron / u.adu)
# an astrometric solution, as a user would attach one
wcs = WCS(naxis=2)
wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
wcs.wcs.crval = [244.5, -22.1]
wcs.wcs.crpix = [ccd.shape[1] / 2, ccd.shape[0] / 2]
wcs.wcs.cdelt = [-1.6e-4, 1.6e-4]
ccd.wcs = wcs
before = ccd.data.copy()

# 3. flag, track, clean
flagged = astromask.flag(ccd)
tracked = astromask.track(flagged)
clean = astromask.cosmicray_deepcr(tracked, readnoise=header["RDNOISE"])
assert np.array_equal(ccd.data, before), "the input was modified"
assert clean.mask.dtype == bool and clean.flags.dtype == np.uint16

# 4. write, read back
clean.write("reduced.fits", hdu_mask="MASK", hdu_flags="FLAGS")
back = CCDData.read("reduced.fits", hdu_mask="MASK")
assert np.array_equal(back.mask, clean.mask), "mask lost"
with fits.open("reduced.fits") as hdul:
    flags = hdul["FLAGS"].data
    names = {{key: hdul[0].header[key] for key in hdul[0].header if key.startswith("AMB_")}}
assert np.array_equal(flags, clean.flags), "flags lost"
cr = astromask.decode_flags(flags, "CR")
assert names["AMB_CR"] == 1 and names["AMB_SAT"] == 512, names
assert back.wcs is not None and back.wcs.wcs.ctype[0] == "RA---TAN", "WCS lost"
np.testing.assert_allclose(back.wcs.wcs.crval, [244.5, -22.1])
assert 0 <= back.meta["AMTRACK"] <= 1
print("cosmic-ray pixels", int(cr.sum()), int(clean.mask.sum()))
"""


def _run(args, cwd, **kwargs):
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:astromask"}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600, **kwargs
    )


def _cli(*args, cwd):
    return _run([sys.executable, "-m", "astromask.cli", *map(str, args)], cwd)


def _quiet(stderr):
    """No start-up chatter: nothing but astromask's own lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert not [line for line in lines if not line.startswith("astromask")], stderr


def test_a_script_reduces_flags_cleans_writes_and_reads_back(tmp_path, realdata):
    script = tmp_path / "reduce.py"
    script.write_text(textwrap.dedent(SCRIPT.format(raw=realdata / "saao1m_ste3_raw.fits")))
    done = _run([sys.executable, str(script)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cosmic-ray pixels" in done.stdout
    _quiet(done.stderr)
    found, masked = map(int, done.stdout.split()[-2:])
    assert 0 < found <= masked  # the frame has about 40 cosmic rays


def _image_pixels(path):
    with fits.open(path) as hdul:
        return [hdu.data.size for hdu in hdul if hdu.is_image and hdu.data is not None]



def test_the_command_line_on_a_folder_then_a_rerun(tmp_path, realdata):
    night = tmp_path / "night"
    night.mkdir()
    for name in ("saao1m_ste3_raw.fits", "lco1m_fa05_raw_mef.fits"):
        shutil.copyfile(realdata / name, night / name)

    done = _cli("flag", night, "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _quiet(done.stderr)
    outputs = sorted(night.glob("*.mask.fits"))
    assert [p.name for p in outputs] == [
        "lco1m_fa05_raw_mef.mask.fits",
        "saao1m_ste3_raw.mask.fits",
    ]
    stamps = {p: p.stat().st_mtime_ns for p in outputs}

    # The outputs keep the headers and hold one integer plane per image HDU.
    for name in ("saao1m_ste3_raw", "lco1m_fa05_raw_mef"):
        source, out = night / f"{name}.fits", night / f"{name}.mask.fits"
        with fits.open(source) as inp, fits.open(out) as res:
            assert len(res) == len(inp)
            for a, b in zip(inp, res, strict=True):
                if a.data is None or a.data.size == 0:  # LCO's primary: NAXIS1 = 0
                    assert b.header.get("CTYPE1") == a.header.get("CTYPE1")
                    continue
                assert b.data.dtype == np.uint16 and b.data.shape == a.data.shape
                for key in ("OBJECT", "DATE-OBS", "GAIN", "BIASSEC", "CTYPE1", "CRVAL1"):
                    assert b.header.get(key) == a.header.get(key), key
                assert b.header["AMB_CR"] == 1 and b.header["AMB_OV"] == 2048
                cr = b.data & 1
                assert cr.any() and not (b.data & ~np.uint16(0x1FFF)).any()
        budget = source.stat().st_size + 2 * sum(_image_pixels(source)) + 2880 * 4 * len(res)
        assert out.stat().st_size <= budget

    # A single HDU alone keeps the primary header's cards (its WCS, OBJECT).
    done = _cli("flag", f"{night / 'lco1m_fa05_raw_mef.fits'}[1]", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with fits.open(night / "lco1m_fa05_raw_mef.mask1.fits") as res:
        assert len(res) == 1
        assert res[0].header["OBJECT"] == "2021 SO2" and res[0].header["CTYPE1"] == "RA---TAN"
        assert res[0].header["BIASSEC"] == "[520:540,1:512]"  # the extension's own card wins
    (night / "lco1m_fa05_raw_mef.mask1.fits").unlink()

    # A new frame arrives; the re-run does it alone and exits 0.
    shutil.copyfile(realdata / "ystar_saao_streak_long.fits", night / "ystar.fits")
    again = _cli("flag", night, "-q", cwd=tmp_path)
    assert again.returncode == 1 and "--overwrite" in again.stderr  # without the option
    done = _cli("flag", night, "-q", "--skip-existing", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (night / "ystar.mask.fits").is_file()
    assert {p: p.stat().st_mtime_ns for p in outputs} == stamps  # the others untouched

    # The cosmic-ray command on the same folder writes images and their CR masks.
    done = _cli("cosmicray", night / "saao1m_ste3_raw.fits", "--gain", "GAIN", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _quiet(done.stderr)
    with fits.open(night / "saao1m_ste3_raw.clean.fits") as res:
        assert res["CRMASK"].data.any()
        assert res["CRMASK"].header["OBJECT"] == "rf0420"
