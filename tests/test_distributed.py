"""astromask.flag_files and ``astromask flag --workers``: files flagged on a Dask cluster.

One local cluster of two worker processes serves the module; the sequential
``astromask flag`` runs once, in a subprocess, to give the reference outputs.
"""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import astromask
from astromask import batch
from astromask.simulate import simulated_frame
from tests.conftest import IN_CI
from tests.conftest import run_cli as _cli
from tests.conftest import sha256_file as _digest

pytestmark = pytest.mark.remote_data  # flagging needs the weights

GOOD = [f"good{i}.fits" for i in range(4)]
BAD = ["corrupt.fits", "table.fits", "missing.fits"]
REASONS = {
    "corrupt.fits": "cannot read as FITS",
    "table.fits": "no 2-D or 3-D image HDU to flag",
    "missing.fits": "no such file",
}


def _distributed():
    if IN_CI:  # in the test extra: must be there
        import distributed

        return distributed
    return pytest.importorskip("distributed")


def _assert_same_file(result, expected):
    """Same HDUs, data and headers, and the same bytes."""
    with fits.open(result) as res, fits.open(expected) as ref:
        assert len(res) == len(ref)
        for got, want in zip(res, ref):
            assert type(got) is type(want)
            assert got.header == want.header
            if want.data is None:
                assert got.data is None
            elif isinstance(want, fits.BinTableHDU):
                assert got.data.tobytes() == want.data.tobytes()
            else:
                assert got.data.dtype == want.data.dtype
                np.testing.assert_array_equal(got.data, want.data)
    assert _digest(result) == _digest(expected)


def _failure_lines(stderr):
    # The progress bar may share a line with a message: keep the message.
    return re.findall(r"astromask: [^\r\n]*", stderr)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Four frames, a two-image MEF, a corrupt file and a table-only file."""
    folder = tmp_path_factory.mktemp("inputs")
    for seed, name in enumerate(GOOD, start=21):
        ccd, _ = simulated_frame((260, 250), seed=seed)
        data = ccd.data if seed % 2 else np.round(ccd.data).astype(np.int16)
        fits.PrimaryHDU(data).writeto(folder / name)
    a, _ = simulated_frame((260, 250), seed=31)
    b, _ = simulated_frame((260, 250), seed=32)
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(a.data, name="SCI", ver=1),
            fits.ImageHDU(b.data, name="SCI", ver=2),
            fits.BinTableHDU(Table({"x": [1.0, 2.0]}), name="CAT"),
        ]
    ).writeto(folder / "mef.fits")
    (folder / "corrupt.fits").write_bytes(np.random.default_rng(0).bytes(5760))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"y": [1, 2]}))]).writeto(
        folder / "table.fits"
    )
    return folder


@pytest.fixture(scope="module")
def sequential(inputs):
    """The sequential command line's outputs (``ref/``) and report lines."""
    args = ["flag", *GOOD, "mef.fits[1]", "mef.fits[2]", *BAD, "--output-dir", "ref"]
    done = _cli(*args, cwd=inputs)
    assert done.returncode == 1, done.stderr
    assert len(list((inputs / "ref").iterdir())) == len(GOOD) + 2
    return args, done


@pytest.fixture(scope="module")
def client():
    """A client of a local cluster of two single-threaded worker processes."""
    distributed = _distributed()
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def test_importing_astromask_imports_neither_keras_nor_dask():
    code = (
        "import sys, astromask, astromask.batch; astromask.flag_files; "
        "loaded = [m for m in ('keras', 'dask', 'distributed', 'astromask.cli') "
        "if m in sys.modules]; assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # python -m astromask.cli: the package must not have imported the module already.
    done = _cli("--help", cwd=None)
    assert done.returncode == 0 and "RuntimeWarning" not in done.stderr, done.stderr


def test_options_are_checked_before_anything_runs(inputs):
    good = inputs / GOOD[0]
    with pytest.raises(ValueError, match="unknown class 'XYZ'"):
        astromask.flag_files(good, classes=["CR", "XYZ"])
    with pytest.raises(ValueError, match="exclude each other"):
        astromask.flag_files(good, single_mask=True, probabilities=True)
    with pytest.raises(ValueError, match="thresholds"):
        astromask.flag_files(good, thresholds={"CR": 2.0})
    with pytest.raises(TypeError, match="'quiet'"):
        astromask.flag_files(good, quiet=True)
    with pytest.raises(ValueError, match="exactly one input"):
        astromask.flag_files(inputs / "mef.fits", output="x.fits", split_hdus=True)
    with pytest.raises(ValueError, match="positive integer"):
        astromask.flag_files(good, workers=0)
    with pytest.raises(ValueError, match="not both"):
        astromask.flag_files(good, client="tcp://127.0.0.1:1", workers=2)
    assert len(astromask.flag_files([])) == 0


def test_tasks_return_messages_rather_than_raise(inputs, tmp_path):
    # What a worker sends back: strings and numbers only, whatever went wrong.
    out = str(tmp_path / "out.fits")
    written, error, seconds, worker = batch._flag_task(str(inputs / "nope.fits"), None, out, {})
    assert (written, error, worker) == ("", "no such file", "") and seconds >= 0
    written, error, *_ = batch._flag_task(str(inputs / GOOD[0]), None, out, {"classes": 5})
    assert written == "" and error.startswith("TypeError: ")
    assert batch._scan_task(str(inputs / "corrupt.fits"))[1].startswith("cannot read as FITS")
    assert batch._scan_task(str(inputs / "mef.fits"))[:2] == ([1, 2], "")
    assert not (tmp_path / "out.fits").exists()


def test_flag_files_writes_what_the_sequential_command_writes(client, inputs, sequential, tmp_path):
    before = {p.name: _digest(p) for p in inputs.iterdir() if p.is_file()}
    paths = [inputs / name for name in [*GOOD, *BAD]]
    table = astromask.flag_files(paths, client=client, output_dir=tmp_path, progress=False)
    assert table.colnames == ["input", "hdu", "output", "status", "error", "seconds", "worker"]
    assert list(table["input"]) == [str(p) for p in paths]  # input order
    assert table["hdu"].mask.all()
    workers = set(client.scheduler_info()["workers"])
    for row in table:
        name = os.path.basename(row["input"])
        if name in GOOD:
            assert row["status"] == "ok" and row["error"] == ""
            assert row["output"] == str(tmp_path / name.replace(".fits", ".mask.fits"))
            assert row["seconds"] > 0 and row["worker"] in workers
            _assert_same_file(row["output"], inputs / "ref" / name.replace(".fits", ".mask.fits"))
        else:
            assert row["status"] == "failed" and row["output"] == ""
            assert REASONS[name] in row["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n.replace(".fits", ".mask.fits") for n in GOOD
    )  # no .part left
    assert {p.name: _digest(p) for p in inputs.iterdir() if p.is_file()} == before


def test_existing_outputs_are_kept_unless_overwrite(client, inputs, tmp_path):
    paths = [inputs / name for name in GOOD[:2]]
    first = astromask.flag_files(paths, client=client, output_dir=tmp_path, progress=False)
    assert list(first["status"]) == ["ok", "ok"]
    outputs = [tmp_path / os.path.basename(p) for p in first["output"]]
    written = [_digest(p) for p in outputs]
    # A scheduler address works as well as a client.
    address = client.scheduler.address
    again = astromask.flag_files(paths, client=address, output_dir=tmp_path, progress=False)
    assert list(again["status"]) == ["failed", "failed"]
    for row, out in zip(again, outputs):
        assert row["error"] == f"output {out} exists; add --overwrite to replace it"
    assert [_digest(p) for p in outputs] == written
    forced = astromask.flag_files(
        paths, client=client, output_dir=tmp_path, overwrite=True, classes=["CR"], progress=False
    )
    assert list(forced["status"]) == ["ok", "ok"]
    for out in outputs:
        flags = fits.getdata(out)  # the bit-coded map, CR's bit alone
        assert flags.shape == (260, 250) and not (flags & ~np.uint16(1)).any()
    # The same output twice in one call: the second job does not race the first.
    twice = astromask.flag_files(
        [paths[0], paths[0]], client=client, output_dir=tmp_path, overwrite=True, progress=False
    )
    assert list(twice["status"]) == ["ok", "failed"]
    assert "is also the output of" in twice["error"][1]


def test_split_hdus_gives_one_output_per_image_hdu(client, inputs, sequential, tmp_path):
    paths = [inputs / "mef.fits", inputs / "table.fits", inputs / "corrupt.fits"]
    table = astromask.flag_files(
        paths, client=client, output_dir=tmp_path, split_hdus=True, progress=False
    )
    assert list(table["input"]) == [str(paths[0])] * 2 + [str(p) for p in paths[1:]]
    assert list(table["hdu"].filled(-1)) == [1, 2, -1, -1]
    assert list(table["status"]) == ["ok", "ok", "failed", "failed"]
    assert REASONS["table.fits"] in table["error"][2]
    assert REASONS["corrupt.fits"] in table["error"][3]
    for hdu in (1, 2):
        out = tmp_path / f"mef.mask{hdu}.fits"
        assert table["output"][hdu - 1] == str(out)
        _assert_same_file(out, inputs / "ref" / f"mef.mask{hdu}.fits")


def test_the_model_is_loaded_once_per_worker(client, inputs, tmp_path):
    def count_model_loads():
        # Replace the worker's model cache by one that counts what is stored.
        from collections import OrderedDict

        from astromask import zoo

        class Counting(OrderedDict):
            stores = 0

            def __setitem__(self, key, value):
                type(self).stores += 1
                super().__setitem__(key, value)

        zoo.networks._models = Counting()

    def model_loads():
        import keras

        from astromask import zoo

        models = zoo.networks._models
        return models.stores, [repr(k) for k in models], keras.backend.backend()

    def restore():
        from collections import OrderedDict

        from astromask import zoo

        zoo.networks._models = OrderedDict(zoo.networks._models)

    client.run(count_model_loads)
    try:
        paths = [inputs / name for name in GOOD]
        table = astromask.flag_files(paths, client=client, output_dir=tmp_path, progress=False)
        assert list(table["status"]) == ["ok"] * len(GOOD)
        loads = client.run(model_loads)
    finally:
        client.run(restore)
    jobs = Counter(table["worker"])
    assert max(jobs.values()) >= 2  # some worker flagged several files
    for worker, (stores, keys, backend) in loads.items():
        assert stores == len(keys) == (1 if jobs[worker] else 0), (worker, keys)
        assert all(key.startswith("('maximask', ") for key in keys)
        # The workers inherit KERAS_BACKEND from this process's environment.
        assert backend == os.environ.get("KERAS_BACKEND", "tensorflow")


def test_command_line_workers_reports_like_the_sequential_one(inputs, sequential):
    args, reference = sequential
    done = _cli(*args[:-1], "par", "--workers", "2", cwd=inputs)
    assert done.returncode == 1, done.stderr
    assert done.stdout.replace("par/", "ref/") == reference.stdout
    assert len(done.stdout.splitlines()) == len(GOOD) + 2
    assert _failure_lines(done.stderr) == _failure_lines(reference.stderr)
    assert [line.split(":")[1].strip() for line in _failure_lines(done.stderr)] == BAD
    for out in (inputs / "ref").iterdir():
        _assert_same_file(inputs / "par" / out.name, out)


def test_command_line_scheduler(client, inputs, tmp_path):
    address = client.scheduler.address
    source = inputs / "mef.fits"
    done = _cli("flag", f"{source}[2]", "--scheduler", address, "--output-dir", tmp_path, cwd=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{source}[2] -> {tmp_path / 'mef.mask2.fits'}\n"
    _assert_same_file(tmp_path / "mef.mask2.fits", inputs / "ref" / "mef.mask2.fits")


def test_a_worker_that_dies_is_a_failed_row(client, inputs, tmp_path, monkeypatch):
    # Fail a task at once when its worker dies (the default retries it on others).
    monkeypatch.setattr(client.cluster.scheduler, "allowed_failures", 0)
    good, doomed = inputs / GOOD[0], tmp_path / "doomed.fits"
    shutil.copyfile(good, doomed)

    def flag_or_die(path, hdu, output, options):  # sent by value to the workers
        if path.endswith("doomed.fits"):
            import time

            time.sleep(1)  # let the worker report any task it finished before
            os._exit(1)
        from astromask import batch

        return batch._flag_task(path, hdu, output, options)

    monkeypatch.setattr(batch, "_flag_task", flag_or_die)
    table = astromask.flag_files([good, doomed], client=client, output_dir=tmp_path, progress=False)
    assert list(table["status"]) == ["ok", "failed"]
    assert table["error"][1].startswith("KilledWorker: ")
    assert np.isnan(table["seconds"][1])
    assert (tmp_path / "good0.mask.fits").is_file()
    assert not (tmp_path / "doomed.mask.fits").exists()
