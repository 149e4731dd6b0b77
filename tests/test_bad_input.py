"""Bad input for every public array and CCDData function.

One catalogue of named inputs (`CASES`) runs through every public function
(`FUNCTIONS`).  Each pair either gives a result that `check_result` accepts
(type, shape, dtype, unit, known flag bits, untouched pixels), or raises the
exception listed in `ERRORS`, whose message must name the argument and say
what to do.  In both cases the caller's object must come back unchanged:
values, dtype, byte order, writeable flag, mask, uncertainty, flags, meta,
WCS and unit.

The frames are small (the networks pad them to one tile), and MaxiTrack,
which needs 400x400 pixels, gets 400x400 versions of the same cases.
"""

import copy
import inspect
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import CCDData, NDData, StdDevUncertainty
from astropy.wcs import WCS

import astromask
from astromask import classes, simulate

SHAPE = (24, 40)  # non-square, smaller than any tile
TILE = (64, 16)  # small MaxiMask tiles: the same padding and stitching, 40x faster
TRACK_SHAPE = (400, 400)  # the smallest frame MaxiTrack scores
KNOWN_BITS = sum(c.bit for c in classes.CLASSES if c.bit is not None)


# ---------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------


def sky(shape=SHAPE, seed=0):
    """A float64 sky with noise and one bright spot."""
    image = np.random.default_rng(seed).normal(1000.0, 10.0, shape)
    image[tuple(s // 2 for s in shape)] += 3000.0
    return image


def with_nan(shape):
    image = sky(shape).astype(np.float32)
    image[1:4, 2:6] = np.nan
    return image


def with_inf(shape):
    image = sky(shape).astype(np.float32)
    image[2, 3], image[5, 7] = np.inf, -np.inf
    return image


def huge(shape):
    image = sky(shape)
    image[2, 3], image[5, 7], image[6, 8] = 1e300, -1e300, 3e38
    return image


def wcs():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.cdelt = [-1e-4, 1e-4]
    return w


def ccd(unit, shape, **kwargs):
    return CCDData(sky(shape).astype(np.float32), unit=unit, meta={"OBJECT": "test"}, **kwargs)


def ccd_full(shape):
    """CCDData with everything: mask, uncertainty, flags, WCS, header."""
    mask = np.zeros(shape, bool)
    mask[0, :3] = True
    result = CCDData(
        sky(shape).astype(np.float32),
        unit="adu",
        mask=mask,
        uncertainty=StdDevUncertainty(np.full(shape, 10.0, np.float32)),
        wcs=wcs(),
        meta={"OBJECT": "test", "EXPTIME": 30.0},
    )
    result.flags = np.zeros(shape, np.uint16)
    return result


def masked(shape):
    mask = np.zeros(shape, bool)
    mask[-2:, -3:] = True
    data = sky(shape)
    data[mask] = -1e6  # garbage under the mask
    return np.ma.MaskedArray(data, mask=mask)


def read_only(shape):
    image = sky(shape).astype(np.float32)
    image.flags.writeable = False
    return image


def strided(shape):
    """A non-contiguous view with negative strides."""
    big = sky((2 * shape[0], 2 * shape[1] + 1))
    return big[::-2, 1::2]


def fortran(shape):
    return np.asfortranarray(sky(shape))


def nddata(shape):
    return NDData(
        sky(shape).astype(np.float32),
        uncertainty=StdDevUncertainty(np.full(shape, 10.0)),
        wcs=wcs(),
        meta={"OBJECT": "test"},
    )


@dataclass(frozen=True)
class Case:
    """A bad input: ``make(shape)`` builds it; ``shape`` fixes its size."""

    make: object
    shape: tuple = None


def fixed(make, shape):
    return Case(lambda _: make(shape), shape)


CASES = {
    "nan_patch": Case(with_nan),
    "inf_pixels": Case(with_inf),
    "all_nan": Case(lambda s: np.full(s, np.nan, np.float32)),
    "constant": Case(lambda s: np.full(s, 500.0)),
    "all_zero": Case(lambda s: np.zeros(s, np.float32)),
    "huge_values": Case(huge),
    "tiny_1x1": fixed(sky, (1, 1)),
    "tiny_1xN": fixed(sky, (1, 17)),
    "tiny_Nx1": fixed(sky, (17, 1)),
    "tiny_7x7": fixed(sky, (7, 7)),
    "cube": Case(lambda s: np.stack([sky(s, 1), with_nan(s)])),
    "int16": Case(lambda s: np.round(sky(s)).astype(np.int16)),
    "uint16": Case(lambda s: np.round(sky(s)).astype(np.uint16)),
    "int64": Case(lambda s: np.round(sky(s)).astype(np.int64)),
    "uint8": Case(lambda s: np.clip(sky(s) / 10, 0, 255).astype(np.uint8)),
    "float16": Case(lambda s: sky(s).astype(np.float16)),
    "big_endian_f4": Case(lambda s: sky(s).astype(">f4")),
    "big_endian_i4": Case(lambda s: np.round(sky(s)).astype(">i4")),
    "bool": Case(lambda s: sky(s) > 1000),
    "complex": Case(lambda s: sky(s).astype(np.complex64)),
    "masked_array": Case(masked),
    "ccd_full_adu": Case(ccd_full),
    "ccd_electron": Case(lambda s: ccd("electron", s)),
    "ccd_electron_per_s": Case(lambda s: ccd(u.electron / u.s, s)),
    "ccd_dimensionless": Case(lambda s: ccd(u.dimensionless_unscaled, s)),
    "nddata_no_unit": Case(nddata),
    "quantity_electron": Case(lambda s: sky(s) * u.electron),
    "read_only": Case(read_only),
    "strided_view": Case(strided),
    "fortran_order": Case(fortran),
    "nested_list": Case(lambda s: sky(s).tolist()),
    "empty": fixed(lambda s: np.zeros(s), (0, 5)),
    "one_dimensional": fixed(lambda s: np.ones(s), (30,)),
    "four_dimensional": fixed(lambda s: np.ones(s), (1, 2, 8, 8)),
}


# ---------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------

HIT = (np.full((1, 1), 500.0), np.ones((1, 1), bool))


def fill_mask(shape):
    """Pixels to inpaint: every fifth one (all of a 1x1 frame)."""
    mask = np.zeros(shape, bool)
    mask.reshape(-1)[::5] = True
    return mask


def image_shape(obj):
    return np.shape(obj.data if isinstance(obj, NDData) else obj)


FUNCTIONS = {
    "flag": lambda x: astromask.flag(x, tiling=TILE, progress=False),
    "probabilities": lambda x: astromask.probabilities(x, tiling=TILE, progress=False),
    "probabilities_deepcr": lambda x: astromask.probabilities(
        x, model="deepcr/ACS-WFC-F606W-2-4", progress=False
    ),
    "inpaint": lambda x: astromask.inpaint(x, fill_mask(image_shape(x)), progress=False),
    "inpaint_medmask": lambda x: astromask.inpaint(x, fill_mask(image_shape(x)), method="medmask"),
    "cosmicray_deepcr": lambda x: astromask.cosmicray_deepcr(
        x, model="deepcr/ACS-WFC-F606W-2-4", progress=False
    ),
    "cosmicray_maximask": lambda x: astromask.cosmicray_maximask(
        x, inpaint="gaussian", tiling=TILE, progress=False
    ),
    "track": lambda x: astromask.track(x),
    "tracking_score": lambda x: astromask.tracking_score(x),
    "inject_cosmic_rays": lambda x: simulate.inject_cosmic_rays(x, [HIT], number=2, seed=0),
    "contaminate": lambda x: simulate.contaminate(x, classes=("HP", "DP"), seed=0),
    "maximask_cr_scale": lambda x: simulate.maximask_cr_scale(x),
}

# The argument each function's messages must name.
ARGUMENT = {
    "flag": "ccd",
    "probabilities": "data",
    "probabilities_deepcr": "data",
    "inpaint": "ccd",
    "inpaint_medmask": "ccd",
    "cosmicray_deepcr": "ccd",
    "cosmicray_maximask": "ccd",
    "track": "ccd",
    "tracking_score": "data",
    "inject_cosmic_rays": "image",
    "contaminate": "image",
    "maximask_cr_scale": "image",
}

NETWORK = ["flag", "probabilities", "probabilities_deepcr", "inpaint", "inpaint_medmask"]
COSMICRAY = ["cosmicray_deepcr", "cosmicray_maximask"]
TRACK = ["track", "tracking_score"]
SIMULATE = ["inject_cosmic_rays", "contaminate", "maximask_cr_scale"]
ASTROMASK = NETWORK + COSMICRAY + TRACK


def _errors():
    """``{(case, function): (exception, regex)}``: the refusals, with what they say."""
    table = {}

    def refuse(cases, functions, exception, pattern):
        for case in cases.split():
            for function in functions:
                table[case, function] = (exception, pattern)

    refuse("complex", ASTROMASK, TypeError, r"complex.*take \.real or abs\(\) first")
    refuse("bool", ASTROMASK, TypeError, r"bool.*mask.*astype\(float\)")
    refuse("empty", ASTROMASK, ValueError, r"empty")
    refuse("one_dimensional four_dimensional", NETWORK, ValueError, r"2-D image or a 3-D cube")
    refuse(
        "one_dimensional four_dimensional cube",
        COSMICRAY + TRACK,
        ValueError,
        r"2-D.*(one by one|planes)",
    )
    refuse("tiny_1x1 tiny_1xN tiny_Nx1 tiny_7x7", TRACK, ValueError, r"at least 400x400")
    # astromask.simulate (refusals of its own style: "image must ...").
    refuse("one_dimensional four_dimensional cube", SIMULATE, ValueError, r"2-D.*image")
    refuse("masked_array", SIMULATE, TypeError, r"masked arrays.*filled\(numpy\.nan\)")
    refuse("empty", SIMULATE, ValueError, r"empty")
    refuse("all_nan", ["contaminate", "maximask_cr_scale"], ValueError, r"no finite")
    refuse("constant all_zero tiny_1x1", ["contaminate"], ValueError, r"no background noise")
    refuse("complex", SIMULATE, TypeError, r"complex.*\.real or abs\(\)")
    refuse("bool", SIMULATE, TypeError, r"bool")
    # cosmicray_* take what ccdproc.cosmicray_lacosmic takes.
    refuse(
        "nddata_no_unit nested_list",
        COSMICRAY,
        TypeError,
        r"CCDData or a numpy\.ndarray.*numpy\.asarray\(\)",
    )
    return table


ERRORS = _errors()

# Known gaps: strict, so that they show up as passing (XPASS, an error) once fixed.
XFAIL = {}

# Cases that only some functions take, to keep the run short: MaxiTrack gets
# 400x400 frames, so it runs on the kinds of input that differ in handling.
ONLY = {
    "tracking_score": {
        "nan_patch",
        "all_nan",
        "constant",
        "complex",
        "bool",
        "masked_array",
        "quantity_electron",
        "tiny_7x7",
        "cube",
        "uint16",
        "big_endian_i4",
    },
    "track": {
        "inf_pixels",
        "huge_values",
        "ccd_full_adu",
        "nddata_no_unit",
        "read_only",
        "strided_view",
        "float16",
        "tiny_1xN",
        "one_dimensional",
        "empty",
    },
}


def _pairs():
    for function in FUNCTIONS:
        for case in CASES:
            if function in ONLY and case not in ONLY[function]:
                continue
            reason = XFAIL.get((function, case))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            if function in ASTROMASK and (case, function) not in ERRORS:
                marks.append(pytest.mark.remote_data)  # runs a network: weights
            yield pytest.param(case, function, id=f"{function}-{case}", marks=marks)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def snapshot(obj):
    """Everything about ``obj`` that a function must not change."""
    state = {"type": type(obj), "copy": copy.deepcopy(obj)}
    if isinstance(obj, np.ndarray):
        state["writeable"] = obj.flags.writeable
        state["strides"] = obj.strides
    if isinstance(obj, NDData):
        state["writeable"] = obj.data.flags.writeable
        state["meta"] = dict(obj.meta)
        state["wcs"] = None if obj.wcs is None else obj.wcs.to_header_string()
    return state


def assert_unchanged(obj, state):
    before = state["copy"]
    assert type(obj) is state["type"]
    if isinstance(obj, NDData):
        assert _equal(obj.data, before.data)
        assert obj.data.flags.writeable == state["writeable"]
        assert obj.unit == before.unit
        assert _equal(obj.mask, before.mask) if before.mask is not None else obj.mask is None
        if before.uncertainty is None:
            assert obj.uncertainty is None
        else:
            assert type(obj.uncertainty) is type(before.uncertainty)
            assert _equal(obj.uncertainty.array, before.uncertainty.array)
        if isinstance(obj, CCDData) and before.flags is not None:
            assert _equal(obj.flags, before.flags)
        elif isinstance(obj, CCDData):
            assert obj.flags is None
        assert dict(obj.meta) == state["meta"]
        wcs_now = None if obj.wcs is None else obj.wcs.to_header_string()
        assert wcs_now == state["wcs"]
    elif isinstance(obj, np.ndarray):
        assert obj.flags.writeable == state["writeable"]
        assert obj.strides == state["strides"]
        if isinstance(obj, u.Quantity):
            assert obj.unit == before.unit
            assert _equal(obj.value, before.value)
        elif isinstance(obj, np.ma.MaskedArray):
            assert _equal(obj.data, before.data)
            assert _equal(np.ma.getmaskarray(obj), np.ma.getmaskarray(before))
        else:
            assert _equal(obj, before)
    else:
        assert obj == before


def values_of(obj):
    """The input's pixel values as an ndarray (no unit, no mask)."""
    if isinstance(obj, NDData):
        return np.asarray(obj.data)
    if isinstance(obj, u.Quantity):
        return obj.value
    if isinstance(obj, np.ma.MaskedArray):
        return np.ma.getdata(obj)
    return np.asarray(obj)


def mask_of(obj):
    """The input's own mask as a bool array (all False without one)."""
    shape = values_of(obj).shape
    if isinstance(obj, np.ma.MaskedArray):
        return np.ma.getmaskarray(obj)
    if isinstance(obj, NDData) and obj.mask is not None:
        return np.asarray(obj.mask, bool)
    return np.zeros(shape, bool)


def unit_of(obj, default=u.adu):
    unit = getattr(obj, "unit", None)
    return default if unit is None else unit


def electron_unit(obj):
    """The unit of cosmicray_* output (gain 1, applied)."""
    unit = getattr(obj, "unit", None)
    if unit is None or u.electron in unit.decompose().bases:
        return unit
    return u.electron  # adu * electron / adu, dimensionless * electron


def check_ccd_copy(result, obj):
    """A new CCDData carrying the input's pixels, unit, uncertainty and WCS."""
    assert isinstance(result, CCDData)
    assert result is not obj
    values = values_of(obj)
    assert result.shape == values.shape
    if isinstance(obj, NDData):
        if obj.uncertainty is not None:
            assert _equal(result.uncertainty.array, obj.uncertainty.array)
        if obj.wcs is not None:
            assert result.wcs.to_header_string() == obj.wcs.to_header_string()
        assert result.meta["OBJECT"] == "test"


def check_result(case, function, obj, result):
    values = values_of(obj)
    shape = values.shape
    finite = np.isfinite(values.astype(np.float64))
    own_mask = mask_of(obj)
    if function == "flag":
        check_ccd_copy(result, obj)
        assert _equal(np.asarray(result.data, np.float64), values.astype(np.float64))
        assert result.unit == unit_of(obj)
        assert result.flags.dtype == np.uint16 and result.flags.shape == shape
        assert not np.any(result.flags & ~np.uint16(KNOWN_BITS))
        assert result.mask.dtype == bool and result.mask.shape == shape
        # Masked and non-finite pixels are masked in the result.
        assert np.all(result.mask[own_mask | ~finite])
        assert result.meta["AMMODEL"] == "maximask"
    elif function.startswith("probabilities"):
        n = (14,) if function == "probabilities" else ()
        assert isinstance(result, np.ndarray) and type(result) is np.ndarray
        assert result.dtype == np.float32 and result.shape == n + shape
        assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1
    elif function.startswith("inpaint"):
        check_ccd_copy(result, obj)
        fill = fill_mask(shape)
        assert result.dtype.kind == "f" and result.dtype.isnative
        assert result.dtype.itemsize >= 4  # float16 becomes float32
        kept = ~fill
        assert _equal(np.asarray(result.data[kept], np.float64), values[kept].astype(np.float64))
        assert np.array_equal(result.mask, own_mask | fill)
        usable = finite & ~own_mask & ~fill
        for plane in range(shape[0] if len(shape) == 3 else 1):
            sel = (plane,) if len(shape) == 3 else ()
            if usable[sel].any():
                assert np.isfinite(result.data[sel][fill[sel]]).all()
            else:  # nothing to estimate from: documented NaN
                assert np.isnan(result.data[sel][fill[sel]]).all()
        assert result.unit == unit_of(obj)
    elif function in COSMICRAY:
        if isinstance(obj, CCDData):
            check_ccd_copy(result, obj)
            cleaned, crmask = result.data, result.mask & ~own_mask
            assert np.array_equal(result.mask, own_mask | crmask)
            assert result.unit == electron_unit(obj)
            assert result.meta["AMCRNPIX"] == int(crmask.sum())
        else:
            assert isinstance(result, tuple) and len(result) == 2
            cleaned, crmask = result
            if isinstance(obj, u.Quantity):
                assert isinstance(cleaned, u.Quantity) and cleaned.unit == electron_unit(obj)
                cleaned = cleaned.value
            else:
                assert type(cleaned) is np.ndarray
        cleaned = np.asarray(cleaned)
        assert cleaned.shape == shape and cleaned.dtype.kind == "f" and cleaned.dtype.isnative
        assert crmask.dtype == bool and crmask.shape == shape
        assert not np.any(crmask & (own_mask | ~finite))  # bad pixels are never flagged
        assert _equal(cleaned[~crmask].astype(np.float64), values[~crmask].astype(np.float64))
        assert np.isfinite(cleaned[crmask]).all()
    elif function == "track":
        check_ccd_copy(result, obj)
        assert _equal(np.asarray(result.data, np.float64), values.astype(np.float64))
        assert 0 <= result.meta["AMTRACK"] <= 1
    elif function == "tracking_score":
        assert isinstance(result, float) and 0 <= result <= 1
    elif function == "inject_cosmic_rays":
        dirty, truth = result
        assert dirty.dtype == np.float32 and dirty.shape == shape and truth.shape == shape
        assert truth.dtype == bool
    elif function == "contaminate":
        dirty, truth = result
        assert dirty.dtype == np.float32 and dirty.shape == shape
        assert set(truth) == {"HP", "DP"}
    elif function == "maximask_cr_scale":
        assert isinstance(result, float) and np.isfinite(result) and result >= 0
    else:  # pragma: no cover
        raise AssertionError(function)


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------


def make(case, function):
    spec = CASES[case]
    shape = spec.shape or (TRACK_SHAPE if function in TRACK else SHAPE)
    return spec.make(shape)


@pytest.mark.parametrize(("case", "function"), list(_pairs()))
def test_bad_input(case, function):
    obj = make(case, function)
    state = snapshot(obj)
    expected = ERRORS.get((case, function))
    if expected is None:
        result = FUNCTIONS[function](obj)
        check_result(case, function, obj, result)
    else:
        exception, pattern = expected
        with pytest.raises(exception) as info:
            FUNCTIONS[function](obj)
        message = str(info.value)
        argument = ARGUMENT[function]
        assert re.match(rf"{argument}\b", message), f"message does not name {argument}"
        assert re.search(pattern, message), message
    assert_unchanged(obj, state)


def test_the_catalogue_covers_the_public_functions():
    """Every public function taking an image is run, and its messages name its
    first argument."""
    public = {
        "flag",
        "probabilities",
        "inpaint",
        "track",
        "tracking_score",
        "cosmicray_deepcr",
        "cosmicray_maximask",
    }
    assert public <= set(FUNCTIONS)
    for name in FUNCTIONS:
        function = getattr(astromask, name, None) or getattr(simulate, name, None)
        if function is None:  # a variant: "inpaint_medmask", "probabilities_deepcr"
            function = getattr(astromask, name.rsplit("_", 1)[0])
        first = next(iter(inspect.signature(function).parameters))
        assert first == ARGUMENT[name]


# decode_flags: flag maps of odd dtypes -----------------------------------

FLAG_MAPS = {
    "uint16": np.array([[0, 1, 2, 3]], np.uint16),
    "int32": np.array([[0, 1, 2, 3]], np.int32),
    "int64": np.array([[0, 1, 2, 3]], np.int64),
    "uint8": np.array([[0, 1, 2, 3]], np.uint8),
    "big_endian_u2": np.array([[0, 1, 2, 3]], ">u2"),
    "read_only": np.array([[0, 1, 2, 3]], np.uint16),
    "strided": np.array([[0, 9, 1, 9, 2, 9, 3, 9]], np.uint16)[:, ::2],
    "cube": np.array([[[0, 1, 2, 3]]] * 2, np.uint16),
    "list": [[0, 1, 2, 3]],
    "masked": np.ma.MaskedArray(np.array([[0, 1, 2, 3]], np.uint16), mask=[[0, 0, 1, 0]]),
    "bool": np.array([[False, True, False, True]]),
    "float": np.array([[0.0, 1.0, 2.0, 3.0]]),
}
FLAG_MAPS["read_only"].flags.writeable = False


@pytest.mark.parametrize("flags", list(FLAG_MAPS.values()), ids=list(FLAG_MAPS))
def test_decode_flags_dtypes(flags):
    state = snapshot(flags)
    values = np.asarray(flags).astype(np.int64)
    cr = astromask.decode_flags(flags, "CR")  # bit 1
    bg = astromask.decode_flags(flags, "BG")  # no bit set
    # A masked flag map keeps its mask; any other input gives a plain array.
    kind = np.ma.MaskedArray if isinstance(flags, np.ma.MaskedArray) else np.ndarray
    assert type(cr) is kind and cr.dtype == bool and cr.shape == values.shape
    if kind is np.ma.MaskedArray:
        np.testing.assert_array_equal(np.ma.getmaskarray(cr), np.ma.getmaskarray(flags))
    np.testing.assert_array_equal(np.asarray(cr), (values & 1) != 0)
    np.testing.assert_array_equal(bg, values == 0)
    assert_unchanged(flags, state)


@pytest.mark.parametrize("flags", [[[0.5, 1.0]], [[np.nan, 1.0]], [[-1.0, 1.0]], [["1"]]])
def test_decode_flags_refuses_what_is_not_a_flag_map(flags):
    with pytest.raises(TypeError, match=r"flags: expected an integer flag map.*astype\(int\)"):
        astromask.decode_flags(np.array(flags), "CR")


@pytest.mark.remote_data
def test_no_warnings_escape():
    """NaN, infinities and overflowing values raise no RuntimeWarning (pytest
    turns warnings into errors; this says so where it matters most)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        astromask.cosmicray_maximask(huge((16, 16)), inpaint="medmask", tiling=TILE)
