"""Property-based tests (hypothesis) of the invariants of the public API.

For random small frames (sky + noise, cosmic-ray-like hits, NaN and infinite
patches, every supported dtype, byte order and memory layout, read-only or
not) wrapped as plain arrays, masked arrays or CCDData (with mask, flags,
uncertainty, unit and meta):

* every output has the documented shape and dtype;
* the input is never modified (data, mask, flags, uncertainty, meta, unit,
  and read-only arrays stay read-only);
* masks only grow: the input mask is inside the output mask;
* inpainting changes only the pixels it is asked to replace (every other
  pixel is bit-identical) and leaves finite values there;
* flag maps carry only the bits of the selected classes of the class table,
  and the mask is exactly the input mask OR the masked classes' bits;
* results do not depend on the batch size (tiles per network call).

Network calls cost 0.05-1 s each, so the network properties run few
examples on tiny tiles (``tiling=(48, 8)`` puts a whole frame of at most
48x48 pixels in a single tile, so the network is built and traced once);
the cheap properties run many.  Every test is derandomized, so CI runs the
same examples each time.
"""

import copy

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import astromask
from astromask import classes, inpainting

# --------------------------------------------------------------------------
# Settings


def _settings(max_examples, *, shrink=True):
    return settings(
        max_examples=max_examples,
        # Shrinking a network test's failure can take minutes: report it as found.
        phases=list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink],
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )


CHEAP = _settings(80)  # no network
FEW = _settings(12, shrink=False)  # a network on one tiny tile per example
RARE = _settings(3, shrink=False)  # a network built for each example's shape

ONE_TILE = (48, 8)  # frames of at most 48x48 px: one tile, one network shape
SMALL_TILES = (32, 8)  # stride 16
SEVERAL_TILES = (48, 60)  # 2 x 3 tiles of SMALL_TILES

FLOAT_DTYPES = ("float32", "float64", ">f4", ">f8", "float16")
INT_DTYPES = ("int16", "uint16", "int32", ">i2")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES
UNITS = (u.adu, u.electron, u.electron / u.s, u.dimensionless_unscaled)

KNOWN_BITS = int(np.bitwise_or.reduce(classes.flag_bits()))
DEFAULT_MASK_BITS = sum(c.bit for c in classes.CLASSES if c.masked)


# --------------------------------------------------------------------------
# Strategies


def _box(ny, nx, max_h=6, max_w=6):
    """(y, x, h, w) of a rectangle that starts inside a ny x nx frame."""
    return st.tuples(
        st.integers(0, ny - 1), st.integers(0, nx - 1), st.integers(1, max_h), st.integers(1, max_w)
    )


def _layout(array, layout, writeable):
    """The same values in another memory layout (and perhaps read-only)."""
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "T":  # a transposed view of a C array
        array = np.ascontiguousarray(np.swapaxes(array, -1, -2)).swapaxes(-1, -2)
    elif layout == "strided":  # every other column of a wider array
        wide = np.zeros((*array.shape[:-1], 2 * array.shape[-1]), dtype=array.dtype)
        wide[..., ::2] = array
        array = wide[..., ::2]
    array.flags.writeable = writeable
    return array


@st.composite
def images(
    draw, *, min_side=8, max_side=48, dtypes=ALL_DTYPES, nonfinite=True, cube=False, shape=None
):
    """A sky + noise frame with hits, perhaps NaN/inf patches, any dtype and layout.

    ``shape`` fixes (ny, nx): a network built for one shape is compiled once
    (JAX compiles again for every new input shape).
    """
    if shape is None:
        ny = draw(st.integers(min_side, max_side), label="ny")
        nx = draw(st.integers(min_side, max_side), label="nx")
    else:
        ny, nx = shape
    planes = draw(st.sampled_from([None, 2]), label="planes") if cube else None
    shape = (ny, nx) if planes is None else (planes, ny, nx)
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    sky = draw(st.floats(-20, 3000), label="sky")
    noise = draw(st.floats(0.5, 40), label="noise")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    values = sky + noise * rng.standard_normal(shape)
    hits = draw(st.lists(st.tuples(_box(ny, nx, 3, 3), st.floats(5, 500)), max_size=4))
    for (y, x, h, w), amplitude in hits:
        values[..., y : y + h, x : x + w] += amplitude * noise
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    elif dtype.itemsize == 2:
        values = np.clip(values, -60000, 60000)
    array = values.astype(dtype)
    if dtype.kind == "f" and nonfinite:
        special = st.sampled_from([np.nan, np.inf, -np.inf])
        for (y, x, h, w), value in draw(st.lists(st.tuples(_box(ny, nx), special), max_size=2)):
            array[..., y : y + h, x : x + w] = value
    layout = draw(st.sampled_from(["C", "F", "T", "strided"]), label="layout")
    writeable = draw(st.booleans(), label="writeable")
    return _layout(array, layout, writeable)


@st.composite
def masks(draw, shape):
    """None, or a bool mask of ``shape``: sparse pixels, a rectangle, or everything."""
    kind = draw(st.sampled_from(["none", "sparse", "box", "all"]), label="mask kind")
    if kind == "none":
        return None
    if kind == "all":
        return np.ones(shape, dtype=bool)
    if kind == "sparse":
        return draw(hnp.arrays(np.bool_, shape, elements=st.just(True), fill=st.just(False)))
    mask = np.zeros(shape, dtype=bool)
    y, x, h, w = draw(_box(shape[-2], shape[-1], 12, 12))
    mask[..., y : y + h, x : x + w] = True
    return mask


@st.composite
def containers(draw, array, *, kinds=("array", "masked", "ccd"), units=UNITS):
    """``array`` as a plain array, a masked array, or a CCDData with extras."""
    kind = draw(st.sampled_from(kinds), label="container")
    mask = draw(masks(array.shape))
    if kind == "array":
        return array
    if kind == "masked":
        return np.ma.MaskedArray(array, mask=np.ma.nomask if mask is None else mask)
    unit = draw(st.sampled_from(units), label="unit")
    uncertainty = None
    if draw(st.booleans(), label="uncertainty"):
        spread = np.abs(np.nan_to_num(np.asarray(array, dtype=np.float64), posinf=1, neginf=1))
        uncertainty = StdDevUncertainty(np.sqrt(spread + 1).astype(np.float32))
    flags = None
    if draw(st.booleans(), label="flags"):
        flags = np.arange(array.size, dtype=np.int16).reshape(array.shape) % 7
    meta = fits.Header() if draw(st.booleans(), label="header") else {}
    meta["OBSERVER"] = "hypothesis"
    meta["EXPTIME"] = 30.0
    return CCDData(array, unit=unit, mask=mask, uncertainty=uncertainty, flags=flags, meta=meta)


# --------------------------------------------------------------------------
# Helpers


def raw(obj):
    """The data array of an array, masked array or CCDData."""
    if isinstance(obj, np.ma.MaskedArray):
        return obj.data
    return obj.data if isinstance(obj, CCDData) else obj


def input_mask(obj):
    """The mask carried by the input (None when there is none)."""
    if isinstance(obj, np.ma.MaskedArray):
        mask = np.ma.getmask(obj)
        return None if mask is np.ma.nomask else mask
    return obj.mask if isinstance(obj, CCDData) else None


def same(a, b):
    """Equal dtype, shape and bits (NaN included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def snapshot(obj):
    """Deep copies of everything an input carries, to compare after a call."""
    array = raw(obj)
    snap = {
        "type": type(obj),
        "data": array.copy(),
        "data_at": array.__array_interface__["data"][0],
        "writeable": array.flags.writeable,
        "mask": None if input_mask(obj) is None else input_mask(obj).copy(),
    }
    if isinstance(obj, CCDData):
        snap["unit"] = obj.unit
        snap["flags"] = None if obj.flags is None else obj.flags.copy()
        unc = obj.uncertainty
        snap["uncertainty"] = None if unc is None else (type(unc), unc.array.copy(), unc.unit)
        snap["meta"] = copy.deepcopy(list(obj.meta.items()))
        snap["meta_type"] = type(obj.meta)
    return snap


def assert_untouched(obj, snap):
    """The input still holds exactly what `snapshot` saw."""
    array = raw(obj)
    assert type(obj) is snap["type"]
    assert array.__array_interface__["data"][0] == snap["data_at"]  # same buffer
    assert same(array, snap["data"])
    assert array.flags.writeable == snap["writeable"]
    mask = input_mask(obj)
    assert (mask is None) == (snap["mask"] is None)
    if mask is not None:
        assert same(mask, snap["mask"])
    if isinstance(obj, CCDData):
        assert obj.unit == snap["unit"]
        assert (obj.flags is None) == (snap["flags"] is None)
        if obj.flags is not None:
            assert same(obj.flags, snap["flags"])
        if snap["uncertainty"] is None:
            assert obj.uncertainty is None
        else:
            kind, values, unit = snap["uncertainty"]
            assert type(obj.uncertainty) is kind and obj.uncertainty.unit == unit
            assert same(obj.uncertainty.array, values)
        assert type(obj.meta) is snap["meta_type"]
        assert list(obj.meta.items()) == snap["meta"]


def assert_independent(obj, result):
    """The result's arrays share no memory with the input's."""
    inputs = [raw(obj), input_mask(obj)]
    outputs = [result.data, result.mask]
    if isinstance(obj, CCDData):  # flags: see test_result_flags_are_a_copy
        inputs.append(None if obj.uncertainty is None else obj.uncertainty.array)
        outputs.append(None if result.uncertainty is None else result.uncertainty.array)
    for a in inputs:
        for b in outputs:
            assert a is None or b is None or not np.shares_memory(a, b)


def subset(inner, outer):
    """Every True pixel of ``inner`` (None: none) is True in ``outer``."""
    return inner is None or not np.any(np.asarray(inner) & ~np.asarray(outer))


# --------------------------------------------------------------------------
# The class table and decode_flags (no network)


def test_class_table_bits():
    bits = [c.bit for c in classes.CLASSES]
    assert len(bits) == len(classes.CLASS_NAMES) == 14
    assert bits[-1] is None and classes.CLASS_NAMES[-1] == "BG"
    assert bits[:-1] == [2**k for k in range(13)]
    assert KNOWN_BITS == 2**13 - 1
    assert classes.flag_bits().dtype == np.uint16


@CHEAP
@given(
    flags=hnp.arrays(
        st.sampled_from([np.uint16, np.int16, np.uint32, np.int64, np.dtype(">u2")]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
    ),
    name=st.sampled_from(classes.CLASS_NAMES),
    lower=st.booleans(),
)
def test_decode_flags(flags, name, lower):
    before = flags.copy()
    decoded = astromask.decode_flags(flags, name.lower() if lower else name)
    assert same(flags, before)
    assert decoded.dtype == bool and decoded.shape == flags.shape
    bit = classes.CLASSES[classes.CLASS_NAMES.index(name)].bit
    expected = flags == 0 if bit is None else (flags.astype(np.int64) & bit) != 0
    np.testing.assert_array_equal(decoded, expected)


@CHEAP
@given(hnp.arrays(np.uint16, hnp.array_shapes(max_side=8), elements=st.integers(0, KNOWN_BITS)))
def test_decode_flags_round_trip(flags):
    """A map of known bits is the OR of its decoded classes; BG = no bit set."""
    rebuilt = np.zeros_like(flags)
    for cls in classes.CLASSES:
        if cls.bit is not None:
            rebuilt |= np.where(astromask.decode_flags(flags, cls.name), np.uint16(cls.bit), 0)
    np.testing.assert_array_equal(rebuilt, flags)
    np.testing.assert_array_equal(astromask.decode_flags(flags, "BG"), rebuilt == 0)


# --------------------------------------------------------------------------
# Inpainting


def _check_inpaint(obj, fill_arg, result, snap):
    """The invariants of one `astromask.inpaint` call."""
    assert_untouched(obj, snap)
    data = raw(obj)
    own = input_mask(obj)
    fill = own if fill_arg is None else np.asarray(fill_arg, dtype=bool)
    assert isinstance(result, CCDData)
    assert result.data.shape == data.shape
    assert result.data.dtype == inpainting.output_dtype(data.dtype)
    assert result.data.dtype.kind == "f"
    # Only the replaced pixels change, and the others are bit-identical.
    expected = np.array(data, dtype=inpainting.output_dtype(data.dtype))
    assert same(result.data[~fill], expected[~fill])
    # Every replaced pixel gets a finite estimate (the global median at worst),
    # unless its plane has no usable pixel at all: then NaN (documented).
    usable = np.isfinite(expected) & ~fill
    if fill_arg is not None and own is not None:
        usable &= ~own  # the CCD's own mask keeps its pixels out of the estimates
    for plane, plane_fill, plane_usable in zip(
        *(np.reshape(a, (-1, *data.shape[-2:])) for a in (result.data, fill, usable))
    ):
        if plane_usable.any():
            assert np.all(np.isfinite(plane[plane_fill]))
        else:
            assert np.all(np.isnan(plane[plane_fill]))
    # The mask: input mask OR the replaced pixels.
    assert result.mask.dtype == bool and result.mask.shape == data.shape
    assert subset(own, result.mask) and subset(fill, result.mask)
    np.testing.assert_array_equal(result.mask, fill if own is None else own | fill)
    expected_unit = obj.unit if isinstance(obj, CCDData) else astromask.core.DEFAULT_UNIT
    assert result.unit == expected_unit
    if isinstance(obj, CCDData):  # the rest is carried over unchanged
        if obj.uncertainty is not None:
            assert same(result.uncertainty.array, obj.uncertainty.array)
        if obj.flags is not None:
            assert same(result.flags, obj.flags)
        assert result.meta["OBSERVER"] == "hypothesis"
    assert_independent(obj, result)


@st.composite
def inpaint_cases(draw, **image_kwargs):
    obj = draw(containers(draw(images(**image_kwargs))))
    fill = draw(masks(raw(obj).shape))
    return obj, fill


@CHEAP
@given(case=inpaint_cases(cube=True), method=st.sampled_from(["medmask", "gaussian"]))
def test_inpaint_classical(case, method):
    obj, fill = case
    snap = snapshot(obj)
    if fill is None and input_mask(obj) is None:
        with pytest.raises(ValueError, match="mask"):
            astromask.inpaint(obj, fill, method=method)
        assert_untouched(obj, snap)
        return
    result = astromask.inpaint(obj, fill, method=method, sigma=1.5)
    _check_inpaint(obj, fill, result, snap)


@RARE
@given(
    case=inpaint_cases(shape=(28, 36)),
    method=st.sampled_from(["deepcr/ACS-WFC-F606W-2-32", "deepcr/ACS-WFC-F606W-3-32"]),
)
def test_inpaint_network(case, method):
    obj, fill = case
    if fill is None:
        fill = np.zeros(raw(obj).shape, dtype=bool)
        fill[3:6, 4:7] = True
    snap = snapshot(obj)
    result = astromask.inpaint(obj, fill, method=method, progress=False)
    _check_inpaint(obj, fill, result, snap)


@CHEAP
@given(case=inpaint_cases(dtypes=FLOAT_DTYPES), method=st.sampled_from(["medmask", "gaussian"]))
def test_inpaint_is_idempotent_on_its_own_output(case, method):
    """Inpainting the same pixels again changes nothing outside them, and
    inpainting with an empty mask returns the data as they are."""
    obj, fill = case
    data = raw(obj)
    empty = np.zeros(data.shape, dtype=bool)
    result = astromask.inpaint(obj, empty, method=method)
    assert same(result.data, np.array(data, dtype=inpainting.output_dtype(data.dtype)))
    own = input_mask(obj)
    assert subset(own, result.mask)


# --------------------------------------------------------------------------
# flag and probabilities (MaxiMask)


def _check_flag(obj, result, snap, selected):
    assert_untouched(obj, snap)
    data = raw(obj)
    assert isinstance(result, CCDData)
    assert same(result.data, data)  # a copy of the input data, bit for bit
    assert_independent(obj, result)
    assert result.flags.dtype == np.uint16 and result.flags.shape == data.shape
    assert result.mask.dtype == bool and result.mask.shape == data.shape
    own = input_mask(obj)
    assert subset(own, result.mask)
    index = classes.class_index(selected)
    allowed = sum(classes.CLASSES[k].bit or 0 for k in index)
    assert not np.any(result.flags & ~np.uint16(allowed))
    assert not np.any(result.flags & ~np.uint16(KNOWN_BITS))
    # With the default mask classes the mask is the input mask OR the masked
    # bits OR the non-finite pixels.
    masked = _expected_flag_mask(result.flags, own, data)
    np.testing.assert_array_equal(result.mask, masked)
    expected_unit = obj.unit if isinstance(obj, CCDData) else astromask.core.DEFAULT_UNIT
    assert result.unit == expected_unit
    assert result.meta["AMMODEL"] == "maximask"
    if isinstance(obj, CCDData):
        assert result.meta["OBSERVER"] == "hypothesis"
        if obj.uncertainty is not None:
            assert same(result.uncertainty.array, obj.uncertainty.array)


def _expected_flag_mask(flags, own, data):
    masked = (flags & np.uint16(DEFAULT_MASK_BITS)) != 0
    if own is not None:
        masked |= own
    return masked | ~np.isfinite(data)


selections = st.one_of(
    st.none(), st.lists(st.sampled_from(classes.CLASS_NAMES), min_size=1, max_size=5, unique=True)
)


@FEW
@given(obj=images(cube=True).flatmap(containers), selected=selections, data=st.data())
def test_flag(obj, selected, data):
    snap = snapshot(obj)
    result = astromask.flag(obj, classes=selected, tiling=ONE_TILE, progress=False)
    _check_flag(obj, result, snap, selected)
    # Flagging the flagged frame again: the mask only grows.
    again = astromask.flag(result, classes=selected, tiling=ONE_TILE, progress=False)
    assert subset(result.mask, again.mask)
    # Other mask classes: the mask is the input mask OR their bits OR non-finite.
    names = [n for n in (selected or classes.CLASS_NAMES) if n != "BG"]
    some = st.lists(st.sampled_from(names), unique=True, max_size=4) if names else st.just([])
    chosen = data.draw(some, label="mask_classes")
    if chosen:
        other = astromask.flag(
            obj, classes=selected, mask_classes=chosen, tiling=ONE_TILE, progress=False
        )
        np.testing.assert_array_equal(other.flags, result.flags)
        bits = np.uint16(sum(classes.CLASSES[classes.CLASS_NAMES.index(n)].bit for n in chosen))
        expected = ((other.flags & bits) != 0) | ~np.isfinite(raw(obj))
        own = input_mask(obj)
        np.testing.assert_array_equal(other.mask, expected if own is None else expected | own)


@RARE
@given(obj=images(max_side=40).flatmap(containers))
def test_flag_default_tiling(obj):
    """The default (upstream) geometry: a frame under 400 px is mirror-padded."""
    snap = snapshot(obj)
    result = astromask.flag(obj, progress=False)
    _check_flag(obj, result, snap, None)


@FEW
@given(obj=images(cube=True).flatmap(containers))
def test_probabilities(obj):
    snap = snapshot(obj)
    p = astromask.probabilities(obj, tiling=ONE_TILE, progress=False)
    assert_untouched(obj, snap)
    assert p.dtype == np.float32 and p.shape == (14, *raw(obj).shape)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    if raw(obj).ndim == 3:  # a cube is processed plane by plane
        own = input_mask(obj)
        for k, plane in enumerate(raw(obj)):
            alone = plane if own is None else np.ma.MaskedArray(plane, mask=own[k])
            p_k = astromask.probabilities(alone, tiling=ONE_TILE, progress=False)
            assert same(p[:, k], p_k)


@FEW
@given(obj=images(dtypes=FLOAT_DTYPES))
def test_transposed_frame(obj):
    """A transposed frame is flagged without complaint, with transposed shapes."""
    result = astromask.flag(obj.T, tiling=ONE_TILE, progress=False)
    assert result.flags.shape == result.mask.shape == obj.T.shape
    assert same(result.data, obj.T)


BATCH_ATOL = 1e-5
"""Probabilities from different batch sizes agree to float32 round-off: the
backends' convolutions (oneDNN on TensorFlow) may sum in another order for
another batch shape.  Measured up to 1.07e-6 on TensorFlow."""


def _assert_same_flags(flags, reference, corrected):
    """Flag maps equal, except where a probability lies within round-off of its threshold."""
    near = np.abs(corrected - classes.default_thresholds()[:, None, None]) <= BATCH_ATOL
    settled = ~near.any(axis=0)
    np.testing.assert_array_equal(flags[settled], reference[settled])


@RARE
@given(
    obj=images(shape=SEVERAL_TILES, dtypes=("float32", ">f8", "int16")).flatmap(
        lambda a: containers(a, kinds=("array", "ccd"))
    ),
    large=st.sampled_from([4, 16]),
)
def test_batch_size_independence(obj, large):
    """Several tiles: one per network call or many give the same results."""
    kwargs = dict(tiling=SMALL_TILES, progress=False)
    p1 = astromask.probabilities(obj, batch_size=1, **kwargs)
    pn = astromask.probabilities(obj, batch_size=large, **kwargs)
    np.testing.assert_allclose(pn, p1, rtol=0, atol=BATCH_ATOL)
    f1 = astromask.flag(obj, batch_size=1, **kwargs)
    fn = astromask.flag(obj, batch_size=large, **kwargs)
    # flag thresholds the prior-corrected probabilities, class by class.
    corrected = astromask.probabilities(obj, priors="default", batch_size=large, **kwargs)
    above = corrected > classes.default_thresholds()[:, None, None]
    bits = classes.flag_bits()[:, None, None]
    expected = np.bitwise_or.reduce(np.where(above, bits, np.uint16(0)), axis=0)
    np.testing.assert_array_equal(fn.flags, expected)  # same batches: exactly
    _assert_same_flags(f1.flags, fn.flags, corrected)
    np.testing.assert_array_equal(f1.mask, _expected_flag_mask(f1.flags, input_mask(obj), raw(obj)))


@RARE
@given(obj=images(shape=SEVERAL_TILES, dtypes=("float32",)), large=st.just(4))
def test_batch_size_independence_cosmic_ray_network(obj, large):
    kwargs = dict(model="deepcr/ACS-WFC-F606W-2-4", tiling=SMALL_TILES, progress=False)
    p1 = astromask.probabilities(obj, batch_size=1, **kwargs)
    pn = astromask.probabilities(obj, batch_size=large, **kwargs)
    assert p1.dtype == pn.dtype == np.float32 and p1.shape == pn.shape == obj.shape
    np.testing.assert_allclose(pn, p1, rtol=0, atol=BATCH_ATOL)


# --------------------------------------------------------------------------
# cosmicray_maximask and cosmicray_deepcr (ccdproc drop-ins)


@st.composite
def cosmicray_cases(draw, *, max_side=48):
    array = draw(images(max_side=max_side))
    obj = draw(containers(array))
    if isinstance(obj, CCDData) and draw(st.booleans(), label="variance"):
        obj.uncertainty = VarianceUncertainty(np.ones(array.shape, dtype=np.float32))
    electrons = isinstance(obj, CCDData) and u.electron in obj.unit.decompose().bases
    dimensionless = isinstance(obj, CCDData) and obj.unit == u.dimensionless_unscaled
    if electrons:
        gain = 1.0
    elif dimensionless:
        gain = draw(st.sampled_from([1.0, 2.0])) * u.electron
    else:
        gain = draw(st.sampled_from([1.0, 0.5, 2.5]), label="gain")
    options = dict(
        gain=gain,
        gain_apply=draw(st.booleans(), label="gain_apply"),
        satlevel=draw(st.sampled_from([65535.0, 2000.0, None]), label="satlevel"),
        dilate=draw(st.integers(0, 2), label="dilate"),
        pssl=draw(st.sampled_from([0.0, 100.0]), label="pssl"),
    )
    return obj, options


def _gain_factor(gain):
    return float(gain.value if isinstance(gain, u.Quantity) else gain)


def _expected_clean(data, options):
    """The data as the cleaned output holds them where nothing was flagged."""
    expected = np.array(data, dtype=inpainting.output_dtype(data.dtype))
    factor = _gain_factor(options["gain"])
    if options["gain_apply"] and factor != 1:
        expected *= factor
    return expected


def _expected_unit(unit, gain_apply):
    """The unit of the cleaned data: electrons when the gain is applied."""
    if not gain_apply or u.electron in unit.decompose().bases:
        return unit
    if unit == u.dimensionless_unscaled:  # counts, as a plain array's
        return u.electron
    return unit * u.electron / u.adu


def _check_cosmicray(obj, options, result, snap):
    assert_untouched(obj, snap)
    data = raw(obj)
    if isinstance(obj, CCDData):
        assert isinstance(result, CCDData)
        cleaned, out_mask = result.data, result.mask
    else:
        assert isinstance(result, tuple) and len(result) == 2
        cleaned, out_mask = result
    assert cleaned.dtype == inpainting.output_dtype(data.dtype) and cleaned.shape == data.shape
    assert out_mask.dtype == bool and out_mask.shape == data.shape
    own = input_mask(obj)
    factor = _gain_factor(options["gain"])
    # Masked, non-finite and saturated pixels are neither flagged nor changed.
    electrons = (data.astype(np.float32) + np.float32(options["pssl"])) * np.float32(factor)
    protected = ~np.isfinite(electrons)
    if own is not None:
        protected |= own
    if options["satlevel"]:
        protected |= electrons >= options["satlevel"]
    if isinstance(obj, CCDData):
        crmask = result.mask.copy() if own is None else result.mask & ~own
        assert subset(own, result.mask)
        assert result.meta["AMCRNPIX"] == int(crmask.sum())
        assert result.meta["OBSERVER"] == "hypothesis"
    else:
        crmask = out_mask
    assert not np.any(crmask & protected)
    # Unflagged pixels: the data (times the gain when it is applied), bit for bit.
    expected = _expected_clean(data, options)
    assert same(cleaned[~crmask], expected[~crmask])
    assert np.all(np.isfinite(cleaned[crmask]))
    if isinstance(obj, CCDData):
        assert result.unit == _expected_unit(obj.unit, options["gain_apply"])
        if obj.uncertainty is not None:
            assert result.uncertainty.array.shape == data.shape


@FEW
@given(case=cosmicray_cases(), inpaint=st.sampled_from(["medmask", "gaussian", None]))
def test_cosmicray_maximask(case, inpaint):
    obj, options = case
    snap = snapshot(obj)
    result = astromask.cosmicray_maximask(
        obj, inpaint=inpaint, tiling=ONE_TILE, progress=False, **options
    )
    _check_cosmicray(obj, options, result, snap)
    if inpaint is None:
        cleaned = result.data if isinstance(result, CCDData) else result[0]
        assert same(cleaned, _expected_clean(raw(obj), options))


@RARE
@given(
    case=cosmicray_cases(max_side=40),
    inpaint=st.sampled_from(["medmask", "deepcr/ACS-WFC-F606W-2-32"]),
)
def test_cosmicray_deepcr(case, inpaint):
    obj, options = case
    snap = snapshot(obj)
    result = astromask.cosmicray_deepcr(
        obj, model="deepcr/ACS-WFC-F606W-2-4", inpaint=inpaint, progress=False, **options
    )
    _check_cosmicray(obj, options, result, snap)


# --------------------------------------------------------------------------
# Non-finite pixels


@FEW
@given(obj=images(min_side=16, dtypes=FLOAT_DTYPES, nonfinite=False))
def test_nonfinite_pixels_take_no_part_in_normalisation(obj):
    """Masking the non-finite pixels changes nothing: they are left out anyway."""
    image = np.array(obj)
    image[2:6, 3:9] = np.nan
    image[10, 1:5] = np.inf
    image[12, 7] = -np.inf
    bad = ~np.isfinite(image)
    kwargs = dict(tiling=ONE_TILE, progress=False)
    plain = astromask.probabilities(image, **kwargs)
    masked = astromask.probabilities(np.ma.MaskedArray(image, mask=bad), **kwargs)
    assert same(plain, masked)


# --------------------------------------------------------------------------
# Regressions found by the properties above


def _flagged_ccd():
    ccd = CCDData(
        np.full((16, 16), 100.0, dtype=np.float32),
        unit="adu",
        mask=np.zeros((16, 16), dtype=bool),
        flags=np.zeros((16, 16), dtype=np.int16),
    )
    ccd.data[5, 5] = 5000.0
    return ccd


# astropy's CCDData.copy() does not copy flags: the result's flags were the
# input's array, so writing to them modified the input.
@pytest.mark.parametrize("function", ["inpaint", "cosmicray_maximask", "cosmicray_deepcr"])
def test_result_flags_are_a_copy(function):
    ccd = _flagged_ccd()
    hit = np.zeros(ccd.shape, dtype=bool)
    hit[5, 5] = True
    if function == "inpaint":
        result = astromask.inpaint(ccd, hit, method="medmask")
    elif function == "cosmicray_maximask":
        result = astromask.cosmicray_maximask(ccd, inpaint=None, tiling=ONE_TILE, progress=False)
    else:
        result = astromask.cosmicray_deepcr(
            ccd, model="deepcr/ACS-WFC-F606W-2-4", inpaint=None, progress=False
        )
    result.flags[0, 0] = 7
    assert ccd.flags[0, 0] == 0
