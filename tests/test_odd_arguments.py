"""Odd values for every argument of every public function.

Each case is ``(function, argument, value)``: the call either raises a
`ValueError` or `TypeError` whose message names the argument, or (for the
values the argument allows) is left out of the table, since it would run a
network.  Validation must happen before any network runs: the networks are
replaced by a stub that fails the test if reached, so a refused value costs
microseconds.
"""

import math
import numbers
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.nddata import CCDData, NDData

import astromask
from astromask import cli, zoo
from astromask.classes import encode_flags, to_dq

# --------------------------------------------------------------------------
# The odd values


class _NetworkReached(BaseException):
    """Raised by the stubbed networks: not an Exception, so nothing catches it."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise _NetworkReached("a network was reached before the arguments were refused")

    monkeypatch.setattr(zoo, "get_model", refuse)


ODD_NUMBERS = {
    "str x": "x",
    "str 0.5": "0.5",
    "str empty": "",
    "str nan": "nan",
    "None": None,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "-1": -1,
    "0": 0,
    "0.0": 0.0,
    "-0.5": -0.5,
    "0.5": 0.5,
    "1.5": 1.5,
    "2": 2,
    "3.7": 3.7,
    "1e400": 1e400,
    "-1e400": -1e400,
    "1e-300": 1e-300,
    "True": True,
    "False": False,
    "np.bool_": np.bool_(True),
    "list [1, 2]": [1, 2],
    "list [0.1]": [0.1],
    "tuple (1,)": (1,),
    "empty list": [],
    "empty dict": {},
    "set": {1},
    "bytes": b"1",
    "complex": complex(1, 1),
    "array 1-d": np.array([1.0, 2.0]),
    "array 0-d": np.array(0.5),
    "np.float32 nan": np.float32("nan"),
    "np.float64 inf": np.float64("inf"),
    "np.int64 -3": np.int64(-3),
    "np.int32 4": np.int32(4),
    "object": object(),
    "Path": Path("x"),
}

DEVICES = {
    **ODD_NUMBERS,
    "nope": "nope",
    "gpu-0": "gpu-0",
    "cpu:x": "cpu:x",
    "gpu:": "gpu:",
    "blank": "  ",
}


def _real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def real(low=-math.inf, high=math.inf, *, low_open=False, high_open=False, finite=True, none=False):
    """A predicate: which values an argument of numbers in a range allows."""

    def valid(value):
        if value is None:
            return none
        if not _real(value) or math.isnan(value) or (finite and not math.isfinite(value)):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    return valid


def integer(minimum, *, none=False):
    def valid(value):
        if value is None:
            return none
        return (
            isinstance(value, numbers.Integral)
            and not isinstance(value, (bool, np.bool_))
            and value >= minimum
        )

    return valid


def device(value):
    return value is None


def no_value(value):
    return False


def path_like(value):
    return isinstance(value, (str, os.PathLike)) and os.fspath(value).strip() != ""


def element(valid):
    """``valid`` for an item of a sequence: a 0-d array of a number counts as one."""

    def check(value):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            value = value[()]
        return valid(value)

    return check


PROBABILITY = real(0, 1)
OPEN_PROBABILITY = real(0, 1, low_open=True, high_open=True)
BATCH_SIZE = integer(1, none=True)

FRAME = CCDData(np.random.default_rng(1).normal(100, 5, (16, 16)).astype(np.float32), unit="adu")
FLAGS = np.zeros((4, 4), np.uint16)
HIT = np.zeros((16, 16), bool)
HIT[8, 8] = True
CUBE = np.zeros((14, 4, 4), np.float32)
TRUTH = {"CR": np.eye(4, dtype=bool)}


def _deepcr(**kw):
    return astromask.cosmicray_deepcr(FRAME, **kw)


def _maximask(**kw):
    return astromask.cosmicray_maximask(FRAME, **kw)


# (function, argument, call(value), valid(value), odd values)
SCALARS = [
    ("flag", "priors", lambda v: astromask.flag(FRAME, priors={"CR": v}), OPEN_PROBABILITY),
    ("flag", "priors", lambda v: astromask.flag(FRAME, priors=[v] * 14), element(OPEN_PROBABILITY)),
    ("flag", "thresholds", lambda v: astromask.flag(FRAME, thresholds={"CR": v}), PROBABILITY),
    ("flag", "batch_size", lambda v: astromask.flag(FRAME, batch_size=v), BATCH_SIZE),
    ("flag", "device", lambda v: astromask.flag(FRAME, device=v), device, DEVICES),
    (
        "probabilities",
        "batch_size",
        lambda v: astromask.probabilities(FRAME, batch_size=v),
        BATCH_SIZE,
    ),
    (
        "probabilities",
        "device",
        lambda v: astromask.probabilities(FRAME, device=v),
        device,
        DEVICES,
    ),
    (
        "probabilities",
        "gain",
        lambda v: astromask.probabilities(FRAME, model="deepcr/decam", gain=v),
        real(0, low_open=True),
    ),
    (
        "probabilities",
        "priors",
        lambda v: astromask.probabilities(FRAME, priors={"CR": v}),
        OPEN_PROBABILITY,
    ),
    (
        "track",
        "prior",
        lambda v: astromask.track(FRAME, prior=v),
        real(0, 1, low_open=True, high_open=True, none=True),
    ),
    ("track", "device", lambda v: astromask.track(FRAME, device=v), device, DEVICES),
    (
        "tracking_score",
        "prior",
        lambda v: astromask.tracking_score(FRAME, prior=v),
        real(0, 1, low_open=True, high_open=True, none=True),
    ),
    (
        "tracking_score",
        "batch_size",
        lambda v: astromask.tracking_score(FRAME, batch_size=v),
        BATCH_SIZE,
    ),
    (
        "tracking_score",
        "device",
        lambda v: astromask.tracking_score(FRAME, device=v),
        device,
        DEVICES,
    ),
    (
        "inpaint",
        "sigma",
        lambda v: astromask.inpaint(FRAME, HIT, method="gaussian", sigma=v),
        real(0, low_open=True),
    ),
    (
        "inpaint",
        "sigma",
        lambda v: astromask.inpaint(FRAME, HIT, method="medmask", sigma=v),
        real(0, low_open=True),
    ),
    (
        "inpaint",
        "device",
        lambda v: astromask.inpaint(FRAME, HIT, method="medmask", device=v),
        device,
        DEVICES,
    ),
    ("inpaint", "batch_size", lambda v: astromask.inpaint(FRAME, HIT, batch_size=v), BATCH_SIZE),
    ("inpaint", "method", lambda v: astromask.inpaint(FRAME, HIT, method=v), no_value, DEVICES),
    ("cosmicray_deepcr", "threshold", lambda v: _deepcr(threshold=v), real(0, 1, none=True)),
    ("cosmicray_deepcr", "gain", lambda v: _deepcr(gain=v), real(0, low_open=True)),
    ("cosmicray_deepcr", "satlevel", lambda v: _deepcr(satlevel=v), real(finite=False, none=True)),
    ("cosmicray_deepcr", "pssl", lambda v: _deepcr(pssl=v), real()),
    ("cosmicray_deepcr", "dilate", lambda v: _deepcr(dilate=v), integer(0)),
    ("cosmicray_deepcr", "batch_size", lambda v: _deepcr(batch_size=v), BATCH_SIZE),
    ("cosmicray_deepcr", "device", lambda v: _deepcr(device=v), device, DEVICES),
    ("cosmicray_deepcr", "inpaint", lambda v: _deepcr(inpaint=v), lambda v: v is None, DEVICES),
    ("cosmicray_maximask", "threshold", lambda v: _maximask(threshold=v), real(0, 1, none=True)),
    (
        "cosmicray_maximask",
        "prior",
        lambda v: _maximask(prior=v),
        real(0, 1, low_open=True, high_open=True, none=True),
    ),
    ("cosmicray_maximask", "gain", lambda v: _maximask(gain=v), real(0, low_open=True)),
    ("cosmicray_maximask", "pssl", lambda v: _maximask(pssl=v), real()),
    ("cosmicray_maximask", "dilate", lambda v: _maximask(dilate=v), integer(0)),
    ("cosmicray_maximask", "device", lambda v: _maximask(device=v), device, DEVICES),
    ("cosmicray_maximask", "inpaint", lambda v: _maximask(inpaint=v), lambda v: v is None, DEVICES),
    ("decode_flags", "name", lambda v: astromask.decode_flags(FLAGS, v), no_value),
    (
        "calibrate_thresholds",
        "target",
        lambda v: astromask.calibrate_thresholds(CUBE, TRUTH, criterion="fpr", target=v),
        lambda v: _real(v) and 0 <= v <= 1 or (isinstance(v, np.ndarray) and v.ndim == 0),
    ),
    (
        "calibrate_thresholds",
        "criterion",
        lambda v: astromask.calibrate_thresholds(CUBE, TRUTH, criterion=v),
        no_value,
        DEVICES,
    ),
    (
        "estimate_priors",
        "tol",
        lambda v: astromask.estimate_priors(CUBE, tol=v),
        real(0, low_open=True, finite=False),
    ),
    (
        "estimate_priors",
        "max_iter",
        lambda v: astromask.estimate_priors(CUBE, max_iter=v),
        integer(1),
    ),
    (
        "flag_files",
        "paths",
        lambda v: astromask.flag_files(v),
        lambda v: path_like(v) or isinstance(v, (list, set)) and all(map(path_like, v)),
    ),
    ("flag_files", "batch_size", lambda v: astromask.flag_files([], batch_size=v), BATCH_SIZE),
    ("flag_files", "device", lambda v: astromask.flag_files([], device=v), device, DEVICES),
    ("flag_files", "workers", lambda v: astromask.flag_files([], workers=v), integer(1, none=True)),
    (
        "flag_files",
        "client",
        lambda v: astromask.flag_files([], client=v),
        lambda v: v is None or path_like(v) and isinstance(v, str),
    ),
    ("to_dq", "convention", lambda v: to_dq(FLAGS, v), no_value, DEVICES),
]
SCALARS = [case if len(case) == 5 else (*case, ODD_NUMBERS) for case in SCALARS]


def _scalar_cases():
    for function, argument, call, valid, values in SCALARS:
        for label, value in values.items():
            if not valid(value):
                yield pytest.param(call, argument, value, id=f"{function}-{argument}-{label}")


@pytest.mark.parametrize(("call", "argument", "value"), _scalar_cases())
def test_odd_scalar_is_refused_naming_the_argument(call, argument, value):
    with pytest.raises((ValueError, TypeError)) as info:
        call(value)
    assert argument in str(info.value)


# --------------------------------------------------------------------------
# Images, masks and flag maps

ODD_ARRAYS = {
    "None": None,
    "str": "CR",
    "bytes": b"CR",
    "int": 3,
    "float": 0.5,
    "object": object(),
    "dict": {},
    "complex": np.ones((16, 16), complex),
    "str array": np.full((16, 16), "a"),
    "object array": np.full((16, 16), None, dtype=object),
    "0-d": np.array(1.0),
    "1-d": np.ones(16),
    "4-d": np.ones((1, 1, 16, 16)),
    "empty": np.ones((0, 0)),
    "empty 1-d": np.ones(0),
    "ragged list": [[1, 2], [3]],
    "wrong shape": np.ones((3, 5)),
    "nan float mask": np.full((16, 16), np.nan),
}
# NaN images are images; any 2-D image is one for the functions taking cubes.
IMAGE_VALID = ("nan float mask",)
ODD_IMAGES = {**ODD_ARRAYS, "bool": np.ones((16, 16), bool)}


def _array_cases():
    image_calls = [
        ("flag", "ccd", lambda v: astromask.flag(v)),
        ("probabilities", "data", lambda v: astromask.probabilities(v)),
        ("track", "ccd", lambda v: astromask.track(v)),
        ("tracking_score", "data", lambda v: astromask.tracking_score(v)),
        ("inpaint", "ccd", lambda v: astromask.inpaint(v, HIT, method="medmask")),
        ("cosmicray_deepcr", "ccd", lambda v: astromask.cosmicray_deepcr(v)),
        ("cosmicray_maximask", "ccd", lambda v: astromask.cosmicray_maximask(v)),
    ]
    for function, argument, call in image_calls:
        for label, value in ODD_IMAGES.items():
            if label == "wrong shape" or label in IMAGE_VALID:
                continue  # any 2-D image is one
            yield pytest.param(call, argument, value, id=f"{function}-{argument}-{label}")
    mask_calls = [
        ("inpaint", "mask", lambda v: astromask.inpaint(FRAME, v, method="medmask")),
    ]
    for function, argument, call in mask_calls:
        for label, value in ODD_ARRAYS.items():
            if label in ("None",):
                continue  # None: the CCD's own mask (FRAME has none: refused, naming mask)
            yield pytest.param(call, argument, value, id=f"{function}-{argument}-{label}")
    flag_calls = [
        ("decode_flags", "flags", lambda v: astromask.decode_flags(v, "CR")),
        ("to_dq", "flags", lambda v: to_dq(v)),
    ]
    for function, argument, call in flag_calls:
        for label in (
            "str",
            "bytes",
            "object",
            "dict",
            "complex",
            "str array",
            "object array",
            "ragged list",
            "nan float mask",
        ):
            value = ODD_ARRAYS[label]
            yield pytest.param(call, argument, value, id=f"{function}-{argument}-{label}")
    prob_calls = [
        (
            "calibrate_thresholds",
            "probabilities",
            lambda v: astromask.calibrate_thresholds(v, TRUTH),
        ),
        ("estimate_priors", "probabilities", lambda v: astromask.estimate_priors(v)),
    ]
    for function, argument, call in prob_calls:
        for label, value in {
            **ODD_ARRAYS,
            "bool cube": np.ones((14, 4, 4), bool),
        }.items():
            if label in ("None", "wrong shape", "1-d", "4-d") and function == "estimate_priors":
                continue
            if label in ("wrong shape", "4-d", "1-d", *IMAGE_VALID):
                continue  # shape errors name the truth or classes
            yield pytest.param(call, argument, value, id=f"{function}-{argument}-{label}")
    yield pytest.param(
        lambda v: astromask.calibrate_thresholds(CUBE, v), "truth", "CR", id="calibrate-truth-str"
    )
    for label in ("str", "bytes", "int", "object", "complex", "str array", "ragged list"):
        yield pytest.param(
            lambda v: encode_flags(v), "masks", ODD_ARRAYS[label], id=f"encode_flags-masks-{label}"
        )


@pytest.mark.parametrize(("call", "argument", "value"), _array_cases())
def test_odd_array_is_refused_naming_the_argument(call, argument, value):
    with pytest.raises((ValueError, TypeError)) as info:
        call(value)
    assert argument in str(info.value)


# --------------------------------------------------------------------------
# Inputs once accepted silently


def _unitless():
    ccd = CCDData(np.ones((16, 16), np.float32), unit="adu")
    ccd._unit = None  # what a subclass or a careless assignment can make
    return ccd


@pytest.mark.parametrize(
    "call",
    [
        lambda ccd: astromask.cosmicray_deepcr(ccd),
        lambda ccd: astromask.cosmicray_maximask(ccd),
        lambda ccd: astromask.flag(ccd),
        lambda ccd: astromask.inpaint(ccd, HIT, method="medmask"),
    ],
    ids=["cosmicray_deepcr", "cosmicray_maximask", "flag", "inpaint"],
)
def test_a_ccddata_without_unit_is_refused_not_turned_into_a_tuple(call):
    with pytest.raises(ValueError, match="ccd: expected a CCDData with a unit"):
        call(_unitless())


def test_inpaint_refuses_a_string_mask_and_leaves_the_data():
    before = FRAME.data.copy()
    with pytest.raises(TypeError, match="mask: expected a bool array"):
        astromask.inpaint(FRAME, mask="CR", method="medmask")
    np.testing.assert_array_equal(FRAME.data, before)


@pytest.mark.parametrize("inpaint", ["nope", "", "MEDMASK", 1, True])
def test_cosmicray_maximask_refuses_an_unknown_inpainting(inpaint):
    with pytest.raises(ValueError, match="inpaint: unknown inpainting method"):
        astromask.cosmicray_maximask(FRAME, inpaint=inpaint)


def test_cosmicray_deepcr_refuses_nan_pssl():
    with pytest.raises(ValueError, match="pssl: expected a finite number, got nan"):
        astromask.cosmicray_deepcr(FRAME, pssl=math.nan)


def test_decode_flags_keeps_the_mask_of_a_masked_flag_map():
    flags = np.ma.MaskedArray(
        np.array([[1, 0], [1, 8]], np.uint16), mask=[[True, False], [False, False]]
    )
    found = astromask.decode_flags(flags, "CR")
    assert isinstance(found, np.ma.MaskedArray)
    np.testing.assert_array_equal(found.mask, flags.mask)
    np.testing.assert_array_equal(found.data, [[True, False], [True, False]])
    plain = astromask.decode_flags(flags.data, "CR")
    assert not isinstance(plain, np.ma.MaskedArray)


def test_calibrate_thresholds_refuses_boolean_probabilities():
    with pytest.raises(TypeError, match="probabilities: expected float"):
        astromask.calibrate_thresholds(np.zeros((14, 4, 4), bool), TRUTH)
    with pytest.raises(TypeError, match="probabilities: expected a float"):
        astromask.calibrate_thresholds(np.zeros((4, 4), bool), np.eye(4, dtype=bool))


@pytest.mark.parametrize(
    ("mask", "where"),
    [(np.zeros((3, 3), bool), "ccd.mask"), (np.zeros((16, 15), bool), "ccd.mask")],
)
@pytest.mark.parametrize("function", ["flag", "inpaint"])
def test_a_mask_of_another_shape_is_refused_by_astromask(function, mask, where):
    nddata = NDData(np.ones((16, 16), np.float32), mask=mask, unit="adu")
    ccd = CCDData(np.ones((16, 16), np.float32), unit="adu")
    ccd._mask = mask  # CCDData's setter checks; its copy would fail inside astropy
    for data in (nddata, ccd):
        with pytest.raises(ValueError, match=f"{where}: shape"):
            if function == "flag":
                astromask.flag(data)
            else:
                astromask.inpaint(data, method="medmask")
    with pytest.raises(ValueError, match="mask: shape"):
        astromask.inpaint(FRAME, mask, method="medmask")


# --------------------------------------------------------------------------
# Training: TileDataset and train

keras = pytest.importorskip("keras")


def _dataset(**kw):
    from astromask.presets import CosmicConnModel
    from astromask.training import TileDataset

    spec = CosmicConnModel("group", "electron", "tiny", hidden=16)
    frame = np.random.default_rng(0).normal(100, 10, (64, 64)).astype(np.float32)
    hits = [(np.full((1, 2), 800, np.float32), np.ones((1, 2), bool))]
    options = dict(hits=hits, tile=32, batch_size=1, steps=2, weighting=None)
    options.update(kw)
    frames = options.pop("frames", [frame])
    return TileDataset(frames, spec, **options), spec


DATASET_SCALARS = [
    ("tile", integer(8)),
    ("batch_size", integer(1)),
    ("steps", integer(1)),
    ("density", real(0, low_open=True)),
    ("hit_scale", real(0, low_open=True)),
    ("seed", integer(0)),
    ("factor", real(0, low_open=True)),
    ("positive_fraction", real(0, 1, low_open=True, high_open=True, none=True)),
]


def _dataset_cases():
    for argument, valid in DATASET_SCALARS:
        for label, value in ODD_NUMBERS.items():
            if valid(value) or (argument == "tile" and label in ("3.7",)):
                continue
            if argument == "factor" and label in ("list [0.1]", "tuple (1,)"):
                continue  # one factor per frame: valid
            yield pytest.param(argument, value, id=f"TileDataset-{argument}-{label}")
    for label, value in {**ODD_IMAGES}.items():
        if label in ("wrong shape", *IMAGE_VALID):
            continue
        yield pytest.param("frames", [value], id=f"TileDataset-frames-{label}")
    for label in ("None", "str", "int", "object"):
        yield pytest.param("frames", ODD_ARRAYS[label], id=f"TileDataset-frames-whole-{label}")


@pytest.mark.parametrize(("argument", "value"), _dataset_cases())
def test_tile_dataset_refuses_odd_values(argument, value):
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as info:
        _dataset(**{argument: value})
    assert argument in str(info.value)


@pytest.fixture(scope="module")
def dataset():
    return _dataset()


TRAIN_SCALARS = [
    ("epochs", integer(1)),
    ("bn_epochs", integer(0, none=True)),
    ("learning_rate", real(0, low_open=True, none=True)),
    ("seed", integer(0, none=True)),
    ("device", device),
    ("patience", integer(1)),
    ("decays", integer(0)),
    ("min_delta", real(0)),
]


def _train_cases():
    for argument, valid in TRAIN_SCALARS:
        values = DEVICES if argument == "device" else ODD_NUMBERS
        for label, value in values.items():
            if not valid(value):
                yield pytest.param(argument, value, id=f"train-{argument}-{label}")
    for label, value in {
        "None": None,
        "int": 123,
        "bytes": b"m.keras",
        "empty": "",
        "object": object(),
        "missing folder": "no/such/dir/m.keras",
        "not .keras": "model.h5",
    }.items():
        yield pytest.param("output", value, id=f"train-output-{label}")


@pytest.mark.parametrize(("argument", "value"), _train_cases())
def test_train_refuses_odd_values_before_any_work(dataset, tmp_path, argument, value):
    data, spec = dataset
    options = {"start": spec, "output": tmp_path / "m.keras", "verbose": 0, argument: value}
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as info:
        astromask.train(data, **options)
    assert argument in str(info.value)
    assert not (tmp_path / "m.keras").exists()


def test_train_writes_no_model_with_non_finite_weights(dataset, tmp_path):
    """A diverging run (a huge learning rate) leaves no model of NaN weights."""
    data, spec = dataset
    output = tmp_path / "m.keras"
    try:
        astromask.train(data, start=spec, output=output, epochs=2, learning_rate=1e30, verbose=0)
    except ValueError as err:
        assert "no longer finite" in str(err)
    except RuntimeError as err:  # PyTorch's loss refuses NaN probabilities while training
        assert "between 0 and 1" in str(err)
    if output.exists():
        model = zoo.load_trained(output) if hasattr(zoo, "load_trained") else None
        if model is not None:
            for weight in model.weights:
                assert np.isfinite(keras.ops.convert_to_numpy(weight)).all()


# --------------------------------------------------------------------------
# The command line

CLI_OPTIONS = [
    (["flag", "x.fits"], "--batch-size", integer(1)),
    (["flag", "x.fits"], "--device", device),
    (["flag", "x.fits"], "--workers", integer(1)),
    (["cosmicray", "x.fits"], "--dilate", integer(0)),
    (["cosmicray", "x.fits"], "--threshold", PROBABILITY),
    (["cosmicray", "x.fits"], "--batch-size", integer(1)),
    (["train", "x.fits", "--output", "m.keras"], "--epochs", integer(1)),
    (["train", "x.fits", "--output", "m.keras"], "--learning-rate", real(0, low_open=True)),
    (["train", "x.fits", "--output", "m.keras"], "--seed", integer(0)),
    (["train", "x.fits", "--output", "m.keras"], "--tile", integer(8)),
    (["train", "x.fits", "--output", "m.keras"], "--density", real(0, low_open=True)),
    (["demo"], "--size", integer(1)),
]
CLI_TEXTS = [
    "x",
    "",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "0.5",
    "1.5",
    "1e400",
    "True",
    "[1, 2]",
    "nope",
    "gpu-0",
    "1j",
    "0x10",
    " ",
]


def _parses_as(text, valid):
    for parse in (int, float):
        try:
            value = parse(text)
        except ValueError:
            continue
        return valid(value)
    return valid(text) if valid is not device else False


def _cli_cases():
    for command, option, valid in CLI_OPTIONS:
        for text in CLI_TEXTS:
            if not _parses_as(text, valid):
                yield pytest.param(
                    [*command, f"{option}={text}"], option, id=f"{command[0]}{option}={text!r}"
                )


@pytest.mark.parametrize(("argv", "option"), _cli_cases())
def test_cli_refuses_a_bad_option_with_usage(argv, option, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: astromask")
    assert option in err


def test_cli_reports_each_failure_on_its_own_line_without_a_bar(tmp_path, capsys):
    for k in range(3):
        (tmp_path / f"empty{k}.fits").write_bytes(b"")
    for command in ("flag", "cosmicray"):
        status = cli.main([command, str(tmp_path)])
        out, err = capsys.readouterr()
        assert status == 1
        lines = err.splitlines()
        assert len(lines) == 3, err
        assert all(line.startswith("astromask: ") and "empty file" in line for line in lines)
        assert "files:" not in err and "%|" not in err


def test_cli_interrupted_while_starting_says_so_in_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_parser", interrupted)
    assert cli.main(["flag", "x.fits"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == ["astromask: interrupted while starting; nothing was done"]


def test_flag_files_checks_options_before_any_file(tmp_path):
    missing = [tmp_path / "a.fits", tmp_path / "b.fits"]
    for value, error in ((0, ValueError), ("x", ValueError)):
        with pytest.raises(error, match="batch_size"):
            astromask.flag_files(missing, batch_size=value)
    with pytest.raises(TypeError, match="client: expected a distributed.Client"):
        astromask.flag_files(missing, client=object())


def test_ctrl_c_while_the_command_line_imports_is_one_line(monkeypatch, capsys):
    """The console script (`astromask._entry`) catches an interruption in its imports."""
    import sys

    from astromask import _entry

    class Interrupt:
        def find_spec(self, name, path=None, target=None):
            if name == "astromask.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "astromask.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupt(), *sys.meta_path])
    assert _entry.main(["--help"]) == 130
    assert capsys.readouterr().err == "\nastromask: interrupted while starting; nothing was done\n"
