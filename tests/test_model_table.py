"""The model table (`astromask.presets`) is the one list of networks.

Adding a network is one `~astromask.presets.Preset` in `astromask.presets.MODELS`
(plus, for a new family, its builder and converter in `astromask.zoo.FAMILIES`):
the download registry, the command line's choices, the documentation's model
table and the model lookups follow it.  The test adds a hypothetical network
and checks each of them.  It also checks that the old module paths keep
working, with a `DeprecationWarning`, for one release.
"""

import dataclasses

import pytest

from astromask import cli, data, inpainting, presets, zoo

NEW_FILE = presets.WeightFile(
    "someone", "new-networks", "0" * 40, "models/new.pth", "ab" * 32, 1234
)
NEW_MASK = presets.Preset(
    "example/new-mask",
    "deepcr",
    "mask",
    (NEW_FILE,),
    "MIT",
    "a hypothetical cosmic-ray network",
    presets.DeepCRModel("mask", 2, 8, 1.0, False, "adu", "a hypothetical network"),
    0.3,
)
NEW_INPAINT = dataclasses.replace(
    NEW_MASK,
    name="example/new-inpaint",
    task="inpaint",
    spec=dataclasses.replace(NEW_MASK.spec, kind="inpaint"),
    threshold=None,
)


@pytest.fixture
def new_networks(monkeypatch):
    monkeypatch.setitem(presets.MODELS, NEW_MASK.name, NEW_MASK)
    monkeypatch.setitem(presets.MODELS, NEW_INPAINT.name, NEW_INPAINT)


def _choices(parser, command, option):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if option in a.option_strings)


def test_a_new_entry_reaches_every_derived_list(new_networks):
    assert data.registry()[NEW_FILE.key] is NEW_FILE
    assert data.model_files(NEW_MASK.name) == (NEW_FILE,)
    assert NEW_MASK.name in presets.cosmic_ray_models()
    assert NEW_INPAINT.name in inpainting.inpaint_methods()
    assert zoo.cosmic_ray_spec(NEW_MASK.name) == NEW_MASK.spec
    table = presets.model_table_rst()
    assert "``example/new-mask``" in table and "a hypothetical cosmic-ray network" in table
    assert "``example/new-mask``" in presets.model_table_rst("mask")
    assert "``example/new-mask``" not in presets.model_table_rst("inpaint")
    parser = cli._parser()
    detector = _choices(parser, "cosmicray", "--detector")
    assert detector.type(NEW_MASK.name) == NEW_MASK.name
    assert NEW_MASK.name in detector.help
    assert NEW_INPAINT.name in _choices(parser, "cosmicray", "--inpaint").choices
    # the family's builder is found from the entry: its network is built (random weights)
    keras = pytest.importorskip("keras")
    net = zoo.families.build(NEW_MASK.name, (16, 16), keras.backend.backend())
    assert net.count_params() > 0


def test_without_the_entry_none_of_them_has_it():
    assert NEW_FILE.key not in data.registry()
    assert NEW_MASK.name not in presets.cosmic_ray_models()
    assert NEW_INPAINT.name not in inpainting.inpaint_methods()
    with pytest.raises(ValueError, match="unknown model 'example/new-mask'"):
        data.model_files(NEW_MASK.name)


def test_every_entry_is_complete():
    for name, entry in presets.MODELS.items():
        assert entry.name == name
        if entry.family == "ensemble":
            # Built from other entries: their files, no builder of its own.
            members = [presets.MODELS[m] for m in entry.spec.members]
            assert all(m.task == "mask" and m.family in zoo.FAMILIES for m in members)
            assert entry.files == tuple(f for m in members for f in m.files)
        else:
            assert entry.family in zoo.FAMILIES
        assert entry.licence and entry.description and entry.citation
        assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files)
        if entry.task == "mask":
            assert 0 < entry.threshold < 1
            assert entry.unit in ("adu", "electron")
    licences = {entry.licence for entry in presets.MODELS.values()}
    assert "none stated" in licences  # the DECam networks of Bhavanam et al.


def test_the_default_detector_has_licensed_weights_only():
    import inspect

    import astromask

    default = inspect.signature(astromask.cosmicray_deepcr).parameters["model"].default
    entry = presets.MODELS[default]
    assert entry.family == "ensemble"
    for member in entry.spec.members:
        assert presets.MODELS[member].licence not in ("", "none stated")
    assert "none stated" not in entry.licence


def test_calibrations_are_ordered():
    calibrated = [e for e in presets.MODELS.values() if e.calibration]
    assert "astromask/ground" in [e.name for e in calibrated]
    for entry in calibrated:
        assert entry.task == "mask"
        rates = [r for r, _ in entry.calibration]
        thresholds = [t for _, t in entry.calibration]
        assert rates == sorted(rates) and len(set(rates)) == len(rates)
        assert thresholds == sorted(thresholds, reverse=True)
        assert all(0 < t < 1 for t in thresholds)
    ground = presets.MODELS["astromask/ground"]
    assert ground.threshold == presets.threshold_for_fpr("astromask/ground", 5e-4)


def test_threshold_for_fpr_interpolates_and_refuses(new_networks):
    points = dict(presets.MODELS["astromask/ground"].calibration)
    assert presets.threshold_for_fpr("astromask/ground", 1e-4) == points[1e-4]
    middle = presets.threshold_for_fpr("astromask/ground", 2e-4)
    assert points[3e-4] < middle < points[1e-4]
    for bad in (1e-9, 0.5, "1e-4", None):
        with pytest.raises(ValueError, match="threshold: a false-positive rate"):
            presets.threshold_for_fpr("astromask/ground", bad)
    with pytest.raises(ValueError, match="no false-positive-rate calibration"):
        presets.threshold_for_fpr(NEW_MASK.name, 1e-3)


def test_a_preset_is_checked():
    with pytest.raises(ValueError, match="family"):
        dataclasses.replace(NEW_MASK, family="nope")
    with pytest.raises(ValueError, match="task"):
        dataclasses.replace(NEW_MASK, task="nope")
    with pytest.raises(ValueError, match="files"):
        dataclasses.replace(NEW_MASK, files=())


@pytest.mark.parametrize(
    ("module", "name", "new"),
    [
        ("astromask.zoo", "cosmic_ray_models", "astromask.presets"),
        ("astromask.zoo", "DeepCRModel", "astromask.presets"),
        ("astromask.zoo", "CosmicConnModel", "astromask.presets"),
        ("astromask.zoo", "DEEPCR_MODELS", None),
        ("astromask.zoo", "COSMIC_CONN_MODELS", None),
        ("astromask.inference", "Tiling", "astromask.tiling"),
        ("astromask.inference", "AutoTiling", "astromask.tiling"),
        ("astromask.inference", "apply_priors", "astromask.priors"),
        ("astromask.inference", "cosmic_ray_probabilities", "astromask.cosmicrays"),
        ("astromask.batch", "flag_file", "astromask.files"),
        ("astromask.batch", "FlagError", "astromask.files"),
    ],
)
def test_old_module_paths_warn_and_work(module, name, new):
    import importlib

    old = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{name} is deprecated"):
        value = getattr(old, name)
    if new is not None:
        assert value is getattr(importlib.import_module(new), name)
    else:
        family = "deepcr" if name == "DEEPCR_MODELS" else "cosmic-conn"
        assert value == {n: p.spec for n, p in presets.MODELS.items() if p.family == family}
    assert not hasattr(old, "no_such_name")
