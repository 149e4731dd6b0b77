"""Tests of astromask.visualization (class maps and plot_flags) and encode_flags."""

import numpy as np
import pytest
from astropy.nddata import CCDData

from astromask.classes import CLASS_NAMES, CLASSES, MULTIPLE_COLOR, decode_flags, encode_flags
from astromask.visualization import class_image, plot_flags

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

BY_NAME = {c.name: c for c in CLASSES}


def _flagged_ccd():
    rng = np.random.default_rng(1)
    flags = np.zeros((60, 80), dtype=np.uint16)
    flags[10, 10:15] |= BY_NAME["CR"].bit
    flags[:, 50] |= BY_NAME["HCL"].bit
    flags[30:40, 20:30] |= BY_NAME["BBG"].bit
    flags[33:36, 23:26] |= BY_NAME["SAT"].bit
    flags[45, 5] |= BY_NAME["HP"].bit
    flags[10, 50] |= BY_NAME["CR"].bit  # CR on the hot column
    data = rng.normal(500, 10, flags.shape).astype(np.float32)
    data[flags != 0] += 1000
    return CCDData(data, unit="adu", flags=flags)


def _legend_names(fig):
    legend = fig.axes[1].get_legend()
    return [t.get_text().split(":")[0] for t in legend.get_texts()]


def _present(flags):
    names = [c.name for c in CLASSES if c.bit is not None and decode_flags(flags, c.name).any()]
    return names + (["BG"] if (flags == 0).any() else [])


def test_every_class_has_a_distinct_colour():
    colours = [c.color for c in CLASSES] + [MULTIPLE_COLOR]
    assert len(set(colours)) == len(colours)
    for c in colours:
        assert to_rgba(c)[3] == 1.0


def test_encode_flags_inverts_decode_flags():
    ccd = _flagged_ccd()
    masks = {name: decode_flags(ccd.flags, name) for name in CLASS_NAMES}
    np.testing.assert_array_equal(encode_flags(masks), ccd.flags)
    assert encode_flags(masks).dtype == np.uint16


def test_encode_flags_checks_its_input():
    with pytest.raises(ValueError, match="unknown class 'XX'"):
        encode_flags({"XX": np.zeros((2, 2), dtype=bool)})
    with pytest.raises(TypeError, match="boolean map"):
        encode_flags({"CR": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="shape"):
        encode_flags({"CR": np.zeros((2, 2), bool), "HP": np.zeros((3, 2), bool)})


def test_plot_flags_legend_lists_the_flagged_classes():
    ccd = _flagged_ccd()
    fig = plot_flags(ccd, fig=Figure())
    assert _legend_names(fig) == _present(ccd.flags) == ["CR", "HCL", "HP", "SAT", "BBG", "BG"]


def test_plot_flags_pixel_colours_are_the_class_colours():
    ccd = _flagged_ccd()
    fig = plot_flags(ccd, fig=Figure(), grow=0)
    rgba = np.asarray(fig.axes[1].images[0].get_array())
    assert rgba.shape == ccd.shape + (4,)

    def assert_colour(y, x, name):
        np.testing.assert_allclose(rgba[y, x], to_rgba(BY_NAME[name].color), atol=1e-6)

    assert_colour(10, 12, "CR")
    assert_colour(5, 50, "HCL")
    assert_colour(31, 21, "BBG")
    assert_colour(34, 24, "SAT")  # SAT drawn over BBG
    assert_colour(10, 50, "CR")  # CR drawn over HCL
    assert_colour(45, 5, "HP")
    assert_colour(45, 6, "BG")  # grow=0: the hot pixel alone
    # every pixel of exactly one class has that class's colour
    for cls in CLASSES:
        if cls.bit is None:
            continue
        alone = ccd.flags == cls.bit
        if alone.any():
            assert np.allclose(rgba[alone], to_rgba(cls.color), atol=1e-3)
    assert np.allclose(rgba[ccd.flags == 0], to_rgba(BY_NAME["BG"].color), atol=1e-3)


def test_hot_pixels_are_grown_for_display():
    ccd = _flagged_ccd()
    rgba, _ = class_image(ccd.flags, grow=1)
    hp = np.asarray(to_rgba(BY_NAME["HP"].color))
    assert np.allclose(rgba[44:47, 4:7], hp, atol=1e-3)
    assert not np.allclose(rgba[47, 5], hp, atol=1e-3)


def test_multiple_black_and_transparent_background():
    ccd = _flagged_ccd()
    rgba, names = class_image(ccd.flags, multiple="black", background=False, grow=0)
    assert np.allclose(rgba[10, 50], to_rgba(MULTIPLE_COLOR))
    assert np.allclose(rgba[34, 24], to_rgba(MULTIPLE_COLOR))  # SAT + BBG
    assert rgba[0, 0, 3] == 0  # background left transparent
    assert names == ["CR", "HCL", "HP", "BBG", "several"]


def test_classes_selects_what_is_drawn():
    ccd = _flagged_ccd()
    fig = plot_flags(ccd, fig=Figure(), classes=["CR", "SAT"], grow=0)
    assert _legend_names(fig) == ["CR", "SAT", "BG"]
    rgba = np.asarray(fig.axes[1].images[0].get_array())
    assert np.allclose(rgba[5, 50], to_rgba(BY_NAME["BG"].color), atol=1e-3)


def test_plot_flags_leaves_the_input_untouched():
    ccd = _flagged_ccd()
    data, flags, meta = ccd.data.copy(), ccd.flags.copy(), dict(ccd.meta)
    plot_flags(ccd, fig=Figure())
    np.testing.assert_array_equal(ccd.data, data)
    np.testing.assert_array_equal(ccd.flags, flags)
    assert dict(ccd.meta) == meta


def test_plot_flags_image_panel_uses_zscale():
    from astropy.visualization import ZScaleInterval

    ccd = _flagged_ccd()
    ccd.data[0, 0] = np.nan
    fig = plot_flags(ccd, fig=Figure())
    image = fig.axes[0].images[0]
    finite = ccd.data[np.isfinite(ccd.data)]
    assert np.allclose(image.get_clim(), ZScaleInterval().get_limits(finite))


def test_plot_flags_into_given_axes_and_separate_flags():
    fig = Figure()
    axes = fig.subplots(2, 1)
    flags = encode_flags({"TRL": np.eye(20, dtype=bool)})
    out = plot_flags(np.ones((20, 20)), flags, axes=axes)
    assert out is fig
    assert _legend_names(fig) == ["TRL", "BG"]


def test_plot_flags_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"astromask.flag\(ccd\)"):
        plot_flags(CCDData(np.zeros((4, 4)), unit="adu"), fig=Figure())
    with pytest.raises(ValueError, match="shape"):
        plot_flags(np.zeros((4, 4)), np.zeros((4, 5), dtype=np.uint16), fig=Figure())
    with pytest.raises(ValueError, match="2-D"):
        plot_flags(np.zeros((2, 4, 4)), np.zeros((2, 4, 4), dtype=np.uint16), fig=Figure())
    with pytest.raises(ValueError, match="multiple"):
        class_image(np.zeros((2, 2), dtype=np.uint16), multiple="grey")
    with pytest.raises(ValueError, match="grow"):
        class_image(np.zeros((2, 2), dtype=np.uint16), grow=-1)


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install .astromask\[plot\]. \(or matplotlib\)"):
        plot_flags(_flagged_ccd())
