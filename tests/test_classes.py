import numpy as np
import pytest

from astromask import classes


def test_table_matches_upstream_config():
    # Upstream MaxiMask 1.4.1 config/classes.priors, classes.thresh and tr_priors.
    assert classes.CLASS_NAMES == (
        "CR",
        "HCL",
        "DCL",
        "HP",
        "DP",
        "P",
        "TRL",
        "FR",
        "NEB",
        "SAT",
        "SP",
        "OV",
        "BBG",
        "BG",
    )
    np.testing.assert_allclose(
        classes.default_thresholds(),
        [0.43, 0.60, 0.74, 0.43, 0.99, 0.65, 0.28, 0.76, 0.56, 0.81, 0.54, 0.55, 0.44, 0.27],
    )
    assert classes.default_priors()[0] == np.float32(0.0005)
    assert classes.training_priors()[-1] == np.float32(0.395)


def test_bits_and_decoding():
    bits = classes.flag_bits()
    assert bits.dtype == np.uint16
    assert list(bits[:-1]) == [2**k for k in range(13)] and bits[-1] == 0
    flags = np.array([[0, 1 | 512], [4096, 2]], dtype=np.uint16)
    for name, expected in [
        ("CR", [[False, True], [False, False]]),
        ("sat", [[False, True], [False, False]]),
        ("BG", [[True, False], [False, False]]),
    ]:
        np.testing.assert_array_equal(classes.decode_flags(flags, name), expected)


def test_default_mask_classes_leave_out_sky_classes():
    sky = set(classes.CLASS_NAMES) - set(classes.DEFAULT_MASK_CLASSES)
    assert sky == {"FR", "NEB", "BBG", "BG"}


def test_fits_keys_are_short():
    for cls in classes.CLASSES:
        for key in (cls.prior_key, cls.threshold_key, cls.bit_key):
            assert len(key) <= 8


def test_unknown_class_is_named_in_error():
    with pytest.raises(ValueError, match="unknown class 'XX'.*CR, HCL"):
        classes.class_index(["CR", "XX"])


def test_docstring_table_lists_every_class():
    for cls in classes.CLASSES:
        assert f"\n{cls.name} " in classes.__doc__


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.uint64, ">u2", bool]
)
def test_decode_flags_through_astropy_bitmask_equals_the_bitwise_rule(dtype):
    # decode_flags calls astropy.nddata.bitmask.bitfield_to_boolean_mask; its
    # answer must be the plain bitwise test, (flags & bit) != 0, on every
    # integer layout (and flags == 0 for BG)
    rng = np.random.default_rng(0)
    top = 2 if dtype is bool else (256 if dtype == np.uint8 else 2**14)
    flags = rng.integers(0, top, (40, 30)).astype(dtype)
    for cls in classes.CLASSES:
        got = classes.decode_flags(flags, cls.name)
        assert got.dtype == bool and got.shape == flags.shape
        if cls.bit is None:
            expected = flags == 0
        elif dtype == np.uint8 and cls.bit > 255:
            continue  # numpy refuses the bit itself for uint8
        else:
            expected = (flags.astype(np.int64) & cls.bit) != 0
        np.testing.assert_array_equal(got, expected)
    assert classes.decode_flags(np.array(3, np.uint16), "CR").shape == ()


def test_decode_several_classes_and_the_flag_map():
    from astropy.nddata.bitmask import bitfield_to_boolean_mask

    from astromask.classes import CLASSES, FLAG_MAP, decode_flags

    rng = np.random.default_rng(0)
    flags = rng.integers(0, 2**13, (40, 50)).astype(np.uint16)
    flags[:5] = 0
    union = decode_flags(flags, "CR") | decode_flags(flags, "SAT") | decode_flags(flags, "BG")
    np.testing.assert_array_equal(decode_flags(flags, ["CR", "SAT", "BG"]), union)
    for cls in CLASSES:
        if cls.bit:
            assert getattr(FLAG_MAP, cls.name) == cls.bit
    by_name = bitfield_to_boolean_mask(
        flags, "~CR,SAT", flag_name_map=FLAG_MAP, good_mask_value=False
    )
    np.testing.assert_array_equal(by_name, decode_flags(flags, ("CR", "SAT")))
    for bad in (None, [], 0, ["CR", 3]):
        with pytest.raises(ValueError, match="name: expected a class name"):
            decode_flags(flags, bad)
    with pytest.raises(ValueError, match="name: unknown class 'FOO'"):
        decode_flags(flags, ("CR", "FOO"))


@pytest.mark.parametrize("convention", ["jwst", "hst", "rubin"])
def test_to_dq_sets_each_class_bits_and_or_of_several(convention):
    from astromask.classes import DQ_CONVENTIONS, dq_map, encode_flags, to_dq

    table = DQ_CONVENTIONS[convention]
    rng = np.random.default_rng(3)
    masks = {c.name: rng.random((40, 30)) < 0.2 for c in classes.CLASSES if c.bit is not None}
    flags = encode_flags(masks)
    dq = to_dq(flags, convention.upper())
    assert dq.dtype == np.dtype(table.dtype) and dq.shape == flags.shape
    expected = np.zeros(flags.shape, np.int64)
    for name, value in dq_map(convention).items():
        expected[masks[name]] |= value
        assert value == sum(table.bits[b] for b in table.classes.get(name, ()))
    assert np.array_equal(dq.astype(np.int64), expected)
    # every bit a convention defines is one bit, and used by some class
    used = {b for bits in table.classes.values() for b in bits}
    assert used == set(table.bits)
    assert all(v & (v - 1) == 0 for v in table.bits.values())
    # sky classes set nothing
    for name in ("FR", "NEB", "BBG"):
        assert dq_map(convention)[name] == 0


def test_jwst_do_not_use_is_the_default_mask():
    from astromask.classes import DEFAULT_MASK_CLASSES, DQ_CONVENTIONS

    jwst = DQ_CONVENTIONS["jwst"].classes
    assert {k for k, v in jwst.items() if "DO_NOT_USE" in v} == set(DEFAULT_MASK_CLASSES)


@pytest.mark.parametrize("bad", ["JWST2", None, 3, ""])
def test_to_dq_names_the_convention(bad):
    from astromask.classes import to_dq

    with pytest.raises(ValueError, match="convention"):
        to_dq(np.zeros(3, np.uint16), bad)
