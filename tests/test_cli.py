"""The ``astromask`` command, run as users run it: in a subprocess."""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.table import Table

import astromask
from astromask import classes
from astromask.simulate import simulated_frame
from tests.conftest import run_cli as _run
from tests.conftest import sha256_file as _digest

pytestmark = pytest.mark.remote_data  # every test but --help needs the weights


@pytest.fixture(scope="module")
def small_mef(tmp_path_factory):
    """A 3-HDU file: empty primary, two 260x250 images, and a table."""
    folder = tmp_path_factory.mktemp("mef")
    a, _ = simulated_frame((260, 250), seed=11)
    b, _ = simulated_frame((260, 250), seed=12)
    table = fits.BinTableHDU(Table({"x": [1.0, 2.0], "name": ["a", "b"]}), name="CAT")
    path = folder / "small.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(a.data, name="SCI", ver=1),
            fits.ImageHDU(np.round(b.data).astype(np.int16), name="SCI", ver=2),
            table,
        ]
    ).writeto(path)
    return path


def test_help_lists_subcommands():
    done = _run("--help")
    assert done.returncode == 0
    for command in ("flag", "track", "fetch", "demo"):
        assert command in done.stdout


def test_flag_real_mef_matches_python(tmp_path, realdata):
    source = tmp_path / "lco1m_fa05_raw_mef.fits"
    shutil.copyfile(realdata / "lco1m_fa05_raw_mef.fits", source)
    before = _digest(source)
    done = _run("flag", source, "--planes", "-q")
    assert done.returncode == 0, done.stderr
    assert _digest(source) == before  # input untouched
    out = tmp_path / "lco1m_fa05_raw_mef.mask.fits"
    with fits.open(source) as inp, fits.open(out) as res:
        assert len(res) == len(inp)
        for index in range(1, len(inp)):
            assert res[index].header["EXTNAME"] == inp[index].name
            planes = res[index].data
            assert planes.shape == (14,) + inp[index].data.shape
            ccd = CCDData(inp[index].data, unit="adu")
            flags = astromask.flag(ccd, progress=False).flags
            for k, cls in enumerate(classes.CLASSES):
                assert res[index].header[f"AMCLS{k}"] == cls.name
                if cls.bit:
                    np.testing.assert_array_equal(
                        planes[k].astype(bool), classes.decode_flags(flags, cls.name)
                    )


def test_flag_compressed_file_keeps_its_table(tmp_path, realdata):
    source = tmp_path / "lco04m_kb29_banzai.fits.fz"
    shutil.copyfile(realdata / "lco04m_kb29_banzai.fits.fz", source)
    done = _run("flag", f"{source}[1]", "--single-mask", "--classes", "CR,HP", "-q")
    assert done.returncode == 0, done.stderr
    with fits.open(tmp_path / "lco04m_kb29_banzai.mask1.fits") as res:
        assert len(res) == 1 and res[0].data.dtype.kind in "iu"
        assert set(np.unique(res[0].data).tolist()) <= {0, 1, 8, 9}
    done = _run(
        "flag", source, "--single-mask", "--classes", "CR", "--compress", "-q", "--suffix", "_cr"
    )
    assert done.returncode == 0, done.stderr
    with fits.open(source) as inp, fits.open(tmp_path / "lco04m_kb29_banzai_cr.fits") as res:
        assert [type(h).__name__ for h in res] == [type(h).__name__ for h in inp]
        np.testing.assert_array_equal(res["BPM"].data, inp["BPM"].data)  # 8-bit: copied
        assert res["CAT"].columns.names == inp["CAT"].columns.names
        np.testing.assert_array_equal(res["CAT"].data["X"], inp["CAT"].data["X"])


def test_single_mask_equals_flag_and_overwrite_rules(tmp_path, small_mef):
    source = tmp_path / small_mef.name
    shutil.copyfile(small_mef, source)
    done = _run("flag", source, "--single-mask", "-q")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "small.mask.fits"
    with fits.open(source) as inp, fits.open(out) as res:
        assert len(res) == 4
        assert isinstance(res[3], fits.BinTableHDU)
        assert list(res[3].data["name"]) == ["a", "b"]
        for index in (1, 2):
            expected = astromask.flag(inp[index].data, progress=False).flags
            np.testing.assert_array_equal(res[index].data, expected)
            assert res[index].header["AMOUTPUT"] == "flags"
            ny, nx = inp[index].data.shape
            assert res[index].header["AMTILE"] == f"{max(ny, 400)}x{max(nx, 400)}/32"
    written = _digest(out)
    again = _run("flag", source, "--single-mask", "-q")
    assert again.returncode == 1
    assert "exists" in again.stderr and "--overwrite" in again.stderr
    assert _digest(out) == written
    forced = _run(
        "flag", source, "--single-mask", "-q", "--overwrite", "--classes", "CR",
        "--tiling", "maximask",
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert _digest(out) != written
    with fits.open(source) as inp, fits.open(out) as res:
        assert res[1].header["AMTILE"] == "400/100"
        expected = astromask.flag(inp[1].data, classes=["CR"], tiling="maximask", progress=False)
        np.testing.assert_array_equal(res[1].data, expected.flags)


def test_bad_file_in_a_batch_is_reported_and_the_rest_goes_on(tmp_path, small_mef):
    good = tmp_path / "good.fits"
    shutil.copyfile(small_mef, good)
    bad = tmp_path / "broken.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + b"garbage" * 100)
    listing = tmp_path / "files.list"
    listing.write_text(f"{bad}\n{good}\n{tmp_path / 'missing.fits'}\n")
    done = _run("flag", listing, "--probabilities", "--classes", "CR,BG")
    assert done.returncode == 1
    assert "broken.fits" in done.stderr and "missing.fits" in done.stderr
    with fits.open(tmp_path / "good.mask.fits") as res:
        assert res[1].data.dtype.kind == "f" and res[1].data.dtype.itemsize == 4
        assert res[1].data.shape == (2, 260, 250)
        assert res[1].header["AMOUTPUT"] == "probabilities"


def test_directory_and_options_errors(tmp_path, small_mef):
    shutil.copyfile(small_mef, tmp_path / "one.fits")
    shutil.copyfile(small_mef, tmp_path / "two.fits")
    done = _run(
        "flag", tmp_path, "--single-mask", "--classes", "CR", "--output-dir", tmp_path / "out", "-q"
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "one.mask.fits",
        "two.mask.fits",
    ]
    bad = _run("flag", tmp_path / "one.fits", "--classes", "CR,XYZ")
    assert bad.returncode != 0 and "unknown class 'XYZ'" in bad.stderr


def test_track_prints_scores_and_writes_ecsv(tmp_path, realdata):
    ecsv = tmp_path / "scores.ecsv"
    done = _run(
        "track",
        realdata / "mro24m_bin4_proc.fits",
        realdata / "lco04m_kb29_banzai.fits.fz",
        "--ecsv",
        ecsv,
        "-q",
    )
    assert done.returncode == 0, done.stderr
    table = Table.read(ecsv, format="ascii.ecsv")
    scores = {row["file"].split("/")[-1]: row["score"] for row in table}
    assert scores["lco04m_kb29_banzai.fits.fz"] > 0.9
    assert scores["mro24m_bin4_proc.fits"] < 0.1
    assert "lco04m_kb29_banzai.fits.fz" in done.stdout
    refused = _run("track", realdata / "mro24m_bin4_proc.fits", "--ecsv", ecsv, "-q")
    assert refused.returncode == 1 and "exists" in refused.stderr


def test_fetch_then_demo_writes_a_flagged_file(tmp_path):
    fetched = _run("fetch", "-q")
    assert fetched.returncode == 0, fetched.stderr
    out = tmp_path / "demo.fits"
    done = _run("demo", "--size", "300", "-q", "--output", out)
    assert done.returncode == 0, done.stderr
    assert "CR" in done.stdout and "recovered" in done.stdout
    ccd = CCDData.read(out, hdu_mask="MASK", hdu_flags="FLAGS")
    assert ccd.flags.shape == (300, 300)
    assert ccd.meta["AMMODEL"] == "maximask"
    again = _run("demo", "--size", "300", "--output", out)
    assert again.returncode == 1
    assert "astromask: error" in again.stderr and "overwrite" in again.stderr.lower()
    assert "simulated" not in again.stdout  # refused before any work


def test_version_and_usage_errors_exit_2(small_mef):
    import astromask

    version = _run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"astromask {astromask.__version__}"
    wrong = _run("flag", small_mef, "--classes", "CR,FOO")
    assert wrong.returncode == 2
    assert "usage:" in wrong.stderr and "--classes" in wrong.stderr and "FOO" in wrong.stderr
    both = _run("flag", small_mef, "--overwrite", "--skip-existing")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_skip_existing_does_only_the_new_frames(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    for seed in (1, 2):
        frame, _ = simulated_frame((200, 210), seed=seed)
        fits.writeto(folder / f"f{seed}.fits", frame.data)
    first = _run("flag", folder, "--classes", "CR,HP", "-q")
    assert first.returncode == 0, first.stderr
    done = {p: _digest(p) for p in folder.glob("*.mask.fits")}
    assert len(done) == 2
    again = _run("flag", folder, "--classes", "CR,HP")
    assert again.returncode == 1 and "exists" in again.stderr  # the default refuses
    frame, _ = simulated_frame((200, 210), seed=3)
    fits.writeto(folder / "f3.fits", frame.data)
    resumed = _run("flag", folder, "--classes", "CR,HP", "--skip-existing")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 3 skipped" in resumed.stdout and "f3.mask.fits" in resumed.stdout
    assert {p: _digest(p) for p in done} == done  # left alone
    assert (folder / "f3.mask.fits").exists()
    cosmic = _run("cosmicray", folder / "f3.fits", "--skip-existing", "--inpaint", "none", "-q")
    assert cosmic.returncode == 0, cosmic.stderr
    skipped = _run("cosmicray", folder / "f3.fits", "--skip-existing", "--inpaint", "none")
    assert skipped.returncode == 0 and "1 of 1 skipped" in skipped.stdout


def test_cosmicray_cleans_like_python_and_keeps_the_rest(tmp_path, small_mef):
    before = _digest(small_mef)
    out = tmp_path / "clean.fits"
    done = _run("cosmicray", small_mef, "--output", out, "--gain", "1.5", "--dilate", "1", "-q")
    assert done.returncode == 0, done.stderr
    assert _digest(small_mef) == before  # input untouched
    with fits.open(small_mef) as src, fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "CRMASK", "SCI", "CRMASK", "CAT"]
        for sci, mask, index in ((1, 2, 1), (3, 4, 2)):
            expected = astromask.cosmicray_deepcr(
                CCDData(src[index].data, unit="adu"),
                gain=1.5,
                gain_apply=False,
                dilate=1,
                satlevel=None,  # the file has no SATURATE keyword
            )
            np.testing.assert_array_equal(hdul[sci].data, expected.data)
            np.testing.assert_array_equal(hdul[mask].data.astype(bool), expected.mask)
            assert hdul[mask].header["AMSRCHDU"] == index
            assert hdul[sci].header["AMCRNPIX"] == int(expected.mask.sum()) > 0
        assert Table.read(hdul["CAT"])["name"].tolist() == ["a", "b"]
    again = _run("cosmicray", small_mef, "--output", out, "-q")
    assert again.returncode == 1 and "--overwrite" in again.stderr
    wrong = _run("cosmicray", small_mef, "--output", tmp_path / "x.fits", "--gain", "NOPE", "-q")
    assert wrong.returncode == 1 and "--gain NOPE: no such keyword" in wrong.stderr


def test_an_hdu_is_named_by_number_or_extname(tmp_path, small_mef):
    # FILE[N] and FILE[EXTNAME]: one rule for every command and for train
    by_number = _run(
        "flag",
        f"{small_mef}[1]",
        "--single-mask",
        "--classes",
        "CR",
        "--output-dir",
        tmp_path,
        "-q",
    )
    by_name = _run(
        "flag",
        f"{small_mef}[SCI]",
        "--single-mask",
        "--classes",
        "CR",
        "--output-dir",
        tmp_path,
        "-q",
    )
    assert by_number.returncode == 0, by_number.stderr
    assert by_name.returncode == 0, by_name.stderr
    with (
        fits.open(tmp_path / "small.mask1.fits") as a,
        fits.open(tmp_path / "small.maskSCI.fits") as b,
    ):
        assert len(a) == len(b) == 1
        np.testing.assert_array_equal(a[0].data, b[0].data)
    missing = _run("flag", f"{small_mef}[NOPE]", "--output-dir", tmp_path, "-q")
    assert missing.returncode == 1 and "has no HDU named NOPE" in missing.stderr
    table = _run("flag", f"{small_mef}[CAT]", "--output-dir", tmp_path, "-q")
    assert table.returncode == 1 and "no 2-D or 3-D image HDU to flag" in table.stderr


def test_cosmicray_cleans_science_images_only(tmp_path, realdata):
    # The Gemini cut-out has SCI, VAR and SKYFIT: VAR and SKYFIT are copied as
    # they are, and the run says so; naming one (FILE[VAR]) still cleans it.
    source = realdata / "gemini_gmos_s_cutout.fits"
    out = tmp_path / "clean.fits"
    done = _run("cosmicray", source, "--output", out, "--inpaint", "medmask")
    assert done.returncode == 0, done.stderr
    assert "VAR, SKYFIT copied, not cleaned: not science images" in done.stdout
    with fits.open(source) as src, fits.open(out) as hdul:
        names = [h.name for h in hdul]
        assert names.count("CRMASK") == 1
        assert names.index("CRMASK") == names.index("SCI") + 1
        for name in ("VAR", "SKYFIT"):
            np.testing.assert_array_equal(hdul[name].data, src[name].data)
        assert hdul["SCI"].header["AMCRNPIX"] > 0
    quiet = _run("cosmicray", source, "--output", out, "--overwrite", "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""
    named = _run("cosmicray", f"{source}[VAR]", "--output-dir", tmp_path, "-q")
    assert named.returncode == 0, named.stderr
    with fits.open(tmp_path / "gemini_gmos_s_cutout.cleanVAR.fits") as hdul:
        assert [h.name for h in hdul] == ["VAR", "CRMASK"]  # the VAR plane, cleaned
