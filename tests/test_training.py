"""Training: tiles, augmentation, loss weights, the fit, and trained model files."""

import json
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from astropy.io import fits

import astromask
from astromask import metrics, presets, priors, training, zoo
from astromask.simulate import simulated_frame

# A small network that learns in seconds: Cosmic-CoNN's UNet, 16 channels,
# group norm, each tile's median subtracted.
TINY = presets.CosmicConnModel("group", "electron", "tiny test network", hidden=16)


def _frames(seeds, shape=(256, 256)):
    frames, truths = [], []
    for seed in seeds:
        ccd, truth = simulated_frame(shape, seed=seed)
        frames.append(ccd.data * np.float32(1.5))  # electrons
        truths.append(truth["CR"])
    return frames, truths


def _hits(n=30, seed=0):
    """Hit shapes: single pixels, pairs and short tracks of 500-3000 e-."""
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(n):
        values = np.zeros((3, 5), np.float32)
        length = rng.integers(1, 6)
        values[1, :length] = rng.uniform(500, 3000, length)
        hits.append((values, values > 0))
    return hits


def _fmt():
    return zoo.data_format(keras.backend.backend())


# ---------------------------------------------------------------------------
# Pieces


def test_class_balance_weights_give_each_class_half_the_loss():
    rng = np.random.default_rng(1)
    truth = rng.uniform(size=(4, 64, 64)) < 0.01
    f = truth.mean()
    w = training.class_balance_weights(truth, f, smooth=False)
    assert w[truth].sum() == pytest.approx(w[~truth].sum(), rel=1e-5)
    assert w.mean() == pytest.approx(1.0, rel=1e-5)
    smooth = training.class_balance_weights(truth, f)
    # Smoothing (3x3, sigma 1, per tile) spreads a hit's weight onto its
    # neighbours and keeps the total.
    assert smooth.sum() == pytest.approx(w.sum(), rel=0.02)
    lone = np.zeros((9, 9), bool)
    lone[4, 4] = True
    s = training.class_balance_weights(lone, 0.01)
    assert s[4, 3] > 10 * s[0, 0] and s[4, 4] < 50
    ignore = np.zeros_like(lone)
    ignore[4, 4] = True
    assert training.class_balance_weights(lone, 0.01, ignore=ignore)[4, 4] == 0
    with pytest.raises(ValueError, match="positive_fraction"):
        training.class_balance_weights(lone, 0)


def test_balanced_probability_is_bayes_with_the_new_prior():
    p = np.array([0.1, 0.5, 0.9], np.float32)
    f = 0.02
    expected = p * f / (p * f + (1 - p) * (1 - f))
    assert np.allclose(priors.balanced_probability(p, f), expected)
    assert np.all(np.diff(priors.balanced_probability(p, f)) > 0)  # ranking kept


def test_augment_sky_adds_a_multiple_of_the_median_and_keeps_the_input():
    tile = np.random.default_rng(0).normal(1000, 10, (32, 32)).astype(np.float32)
    tile.flags.writeable = False
    out = training.augment_sky(tile, 2.0)
    assert np.allclose(out - tile, 2 * np.median(tile))
    assert np.allclose(training.augment_sky(tile, -0.9, sky=500.0), tile - 450)
    flat = np.zeros((4, 4), np.float32)
    assert np.array_equal(training.augment_sky(flat, 3.0), flat)  # no sky, nothing added


def test_random_orientation_moves_arrays_alike():
    a = np.arange(12).reshape(3, 4)
    seen = set()
    for seed in range(40):
        x, y = training.random_orientation((a, a * 10), np.random.default_rng(seed))
        assert np.array_equal(y, x * 10)
        assert sorted(x.ravel()) == list(range(12))
        seen.add(x.tobytes() + bytes(x.shape))
    assert len(seen) == 8


def test_network_input_follows_the_spec():
    tiles = np.random.default_rng(0).normal(500, 5, (2, 8, 8)).astype(np.float32)
    x = training.network_input(tiles, presets.model_spec("cosmic-conn/ground_imaging"))
    assert x.shape == (2, 8, 8, 1)
    assert abs(np.median(x[0])) < 1  # the tile's median subtracted
    kept = training.network_input(tiles, presets.model_spec("decam-attention/Att_deepCR"))
    assert np.array_equal(kept[..., 0], tiles)
    std = training.network_input(tiles, presets.model_spec("deepcr/WFC3-UVIS"))
    assert np.allclose(std.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    scaled = training.network_input(tiles, presets.model_spec("deepcr/ACS-WFC-F606W-2-4"))
    assert np.allclose(scaled[..., 0], tiles / 100)


# ---------------------------------------------------------------------------
# TileDataset


def test_tiles_are_reproducible_and_labelled():
    frames, truths = _frames([1, 2])
    data = training.TileDataset(
        frames, TINY, hits=_hits(), truth=truths, tile=64, batch_size=4, steps=3, seed=5
    )
    x, y, w = data[0]
    assert x.shape == (4, 64, 64, 1) and x.dtype == np.float32
    assert y.shape == (4, 64, 64, 1) and set(np.unique(y)) <= {0.0, 1.0}
    assert w.shape == (4, 64, 64) and (w > 0).all()
    assert 0 < data.positive_fraction < 0.05
    again = training.TileDataset(
        frames, TINY, hits=_hits(), truth=truths, tile=64, batch_size=4, steps=3, seed=5
    )
    assert all(np.array_equal(a, b) for a, b in zip(data[0], again[0]))
    assert not np.array_equal(data[0][0], data[1][0])
    data.on_epoch_end()  # a new epoch draws new tiles ...
    assert not np.array_equal(data[0][0], again[0][0])
    fixed = training.TileDataset(
        frames, TINY, truth=truths, tile=64, batch_size=4, steps=2, fixed=True, seed=5
    )
    first = fixed[1][0].copy()
    fixed.on_epoch_end()  # ... a fixed (validation) set does not
    assert np.array_equal(fixed[1][0], first)


def test_injected_pixels_are_the_truth_and_ignored_pixels_weigh_nothing():
    frame = np.full((96, 96), 100.0, np.float32)
    frame[:, :10] = np.nan  # unusable: weight 0, value replaced
    ignore = np.zeros(frame.shape, bool)
    ignore[50:60, 50:60] = True
    spec = presets.model_spec("decam-attention/Att_deepCR")  # sky kept: x is the data
    data = training.TileDataset(
        [frame],
        spec,
        hits=_hits(),
        ignore=[ignore],
        tile=96,
        batch_size=2,
        steps=1,
        density=1 / 300,
        sky_range=None,
        rotate=False,
        weighting=None,
    )
    x, y, w = data[0]
    changed = x[..., 0] != 100
    truth = y[..., 0] > 0
    assert changed.any() and not (changed & ~truth).any()
    assert np.isfinite(x).all()
    assert (w[:, :, :10] == 0).all() and (w[:, 50:60, 50:60] == 0).all()
    assert (w[:, 20:40, 20:40] == 1).all()
    assert np.isnan(frame[:, :10]).all()  # the caller's frame is untouched


def test_tiles_stream_from_fits_sections(tmp_path):
    frames, truths = _frames([3])
    plain = tmp_path / "frame.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(frames[0])]).writeto(plain)
    packed = tmp_path / "frame.fits.fz"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.CompImageHDU(frames[0], compression_type="GZIP_2")]
    ).writeto(packed)
    kwargs = dict(truth=truths, tile=64, batch_size=2, steps=2, seed=9, positive_fraction=0.01)
    ref = training.TileDataset(frames, TINY, **kwargs)[1]
    for source in (plain, f"{plain}[1]", (plain, 1)):
        got = training.TileDataset([source], TINY, **kwargs)[1]
        assert all(np.array_equal(a, b) for a, b in zip(got, ref)), source
    # Compressed floats are quantised: compare with what the file holds.
    ref = training.TileDataset([fits.getdata(packed, 1)], TINY, **kwargs)[1]
    got = training.TileDataset([packed], TINY, **kwargs)[1]
    assert all(np.array_equal(a, b) for a, b in zip(got, ref))


def test_dataset_errors_say_what_to_do(tmp_path):
    frames, truths = _frames([1], shape=(64, 64))
    with pytest.raises(ValueError, match="smaller than a 128-pixel tile"):
        training.TileDataset(frames, TINY, truth=truths, tile=128)
    with pytest.raises(ValueError, match="give hits to inject"):
        training.TileDataset(frames, TINY, tile=32)
    with pytest.raises(ValueError, match="hit library is empty"):
        training.TileDataset(frames, TINY, hits=[], tile=32)
    with pytest.raises(ValueError, match="truth: item 0 has shape"):
        training.TileDataset(frames, TINY, truth=[np.zeros((8, 8), bool)], tile=32)
    with pytest.raises(ValueError, match="multiple of 4"):
        training.TileDataset(frames, TINY, truth=truths, tile=30)
    with pytest.raises(FileNotFoundError, match="no such file"):
        training.TileDataset([tmp_path / "missing.fits"], TINY, truth=truths)
    with pytest.raises(TypeError, match="DeepCRModel or CosmicConnModel"):
        training.TileDataset(frames, "deepcr/decam", truth=truths)


# ---------------------------------------------------------------------------
# Batch norm: the training form folds into the inference form


@pytest.mark.parametrize(
    "spec",
    [
        presets.DeepCRModel("mask", 2, 8, 1.0, False, "electron", "tiny deepCR"),
        presets.CosmicConnModel("batch", "adu", "tiny gated", sky="kept", attention=True, hidden=8),
    ],
    ids=["deepcr", "gated-cosmic-conn"],
)
def test_fold_batchnorm_gives_the_frozen_network(spec):
    keras.utils.set_random_seed(3)
    trained = zoo.build_network(spec, (32, 32), data_format=_fmt(), training=True)
    rng = np.random.default_rng(0)
    for layer in trained.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, n),
                    rng.normal(0, 0.5, n),
                    rng.normal(0, 0.5, n),
                    rng.uniform(0.5, 2, n),
                ]
            )
    inference = zoo.build_network(spec, (32, 32), data_format=_fmt())
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in inference.layers)
    training.fold_batchnorm(trained, inference)
    x = rng.normal(0, 1, (2, 32, 32, 1)).astype(np.float32)
    frozen = keras.ops.convert_to_numpy(trained(x, training=False))
    folded = keras.ops.convert_to_numpy(inference(x))
    assert np.abs(frozen - folded).max() < 1e-5


# ---------------------------------------------------------------------------
# Training, saving and using the model


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny network trained for a few epochs on injected hits (about a minute)."""
    frames, truths = _frames([1, 2, 3])
    held, held_truths = _frames([4])
    common = dict(hits=_hits(), tile=64, batch_size=8, density=1 / 1000)
    data = training.TileDataset(frames, TINY, truth=truths, steps=15, seed=1, **common)
    validation = training.TileDataset(
        held,
        TINY,
        truth=held_truths,
        steps=4,
        seed=2,
        fixed=True,
        positive_fraction=data.positive_fraction,
        **common,
    )
    x, y, w = validation.arrays()
    keras.utils.set_random_seed(0)
    untrained = zoo.build_network(TINY, (64, 64), data_format=_fmt())
    before = metrics.tpr_at_fpr(
        np.asarray(untrained.predict(x, verbose=0))[..., 0], y[..., 0] > 0, (1e-3, 1e-2)
    )[0]
    output = tmp_path_factory.mktemp("trained") / "tiny.keras"
    history = astromask.train(
        data,
        validation,
        start=TINY,
        output=output,
        epochs=4,
        seed=0,
        verbose=0,
        fpr=(1e-3, 1e-2),
    )
    return output, history, before, (held[0], held_truths[0])


def test_training_beats_the_untrained_network(tiny_run):
    _, history, before, _ = tiny_run
    best = min(history, key=lambda e: e["val_loss"])
    print(
        f"\nTPR at FPR 1e-3 / 1e-2 on held-out tiles: untrained {before[0]:.3f} / "
        f"{before[1]:.3f}, trained (epoch {best['epoch']}) {best['val_tpr@fpr=0.001']:.3f} / "
        f"{best['val_tpr@fpr=0.01']:.3f}"
    )
    assert len(history) == 4
    assert history[-1]["loss"] < history[0]["loss"]
    assert best["val_tpr@fpr=0.01"] > before[1] + 0.4
    assert best["val_tpr@fpr=0.001"] > before[0] + 0.3


def test_trained_model_file_is_keras_with_metadata(tiny_run):
    output, history, _, _ = tiny_run
    loaded = keras.saving.load_model(output, compile=False)  # Keras' own format
    assert loaded.output_shape == (None, 64, 64, 1)
    meta = zoo.trained_metadata(output)
    assert meta["spec"] == training.dataclasses.replace(
        TINY, description="trained with astromask", balanced_prior=meta["spec"].balanced_prior
    )
    assert 0 < meta["spec"].balanced_prior < 0.05
    best = min(history, key=lambda e: e["val_loss"])
    assert meta["training"]["best_epoch"] == best["epoch"]
    assert len(meta["training"]["history"]) == best["epoch"]
    assert meta["base"] is None and len(meta["sha256"]) == 64


def test_trained_model_works_wherever_model_is_accepted(tiny_run):
    output, _, _, (frame, truth) = tiny_run
    p = astromask.probabilities(frame, model=str(output), progress=False)
    assert p.shape == frame.shape and p.dtype == np.float32
    assert metrics.tpr_at_fpr(p, truth, 1e-2)[0] > 0.5
    # The output is mapped back from the balanced training prior.
    spec = zoo.trained_metadata(output)["spec"]
    raw = zoo.get_model(str(output.resolve()), frame.shape).predict(
        training.network_input(frame[None], spec), verbose=0
    )[0, ..., 0]
    assert np.allclose(p, priors.balanced_probability(raw, spec.balanced_prior), atol=1e-5)
    ccd, _ = simulated_frame((256, 256), seed=4)
    clean = astromask.cosmicray_deepcr(
        ccd, model=output, gain=1.5, readnoise=5, inpaint="medmask", progress=False
    )
    assert clean.meta["AMCRMOD"] == str(output)
    assert clean.mask.any()


def test_two_phase_batchnorm_training_from_scratch(tmp_path):
    spec = presets.DeepCRModel("mask", 2, 8, 1.0, False, "electron", "tiny deepCR")
    frames, truths = _frames([5])
    data = training.TileDataset(frames, spec, truth=truths, tile=32, batch_size=4, steps=3)
    output = tmp_path / "bn.keras"
    history = astromask.train(
        data, start=spec, output=output, epochs=2, bn_epochs=1, seed=0, verbose=0
    )
    assert [e["epoch"] for e in history] == [1, 2]
    meta = zoo.trained_metadata(output)
    assert meta["training"]["bn_epochs"] == 1
    saved = keras.saving.load_model(output, compile=False)
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in saved.layers)
    p = astromask.probabilities(frames[0], model=output, progress=False)
    assert p.shape == frames[0].shape and np.isfinite(p).all()


def test_plateau_schedule_decays_then_stops():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    plateau = training._Plateau("val_loss", patience=2, min_delta=1e-3, decays=2)
    plateau.set_model(model)
    rates = []
    for loss in [1.0, 0.5, 0.4999, 0.4999, 0.4999, 0.4999, 0.4999, 0.4999]:
        plateau.on_epoch_end(0, {"val_loss": loss})
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    # 0.4999 is not 0.1 % better than 0.5: two stalls per decay, then a stop.
    assert np.allclose(rates, [0.01, 0.01, 0.01, 0.001, 0.001, 1e-4, 1e-4, 1e-4])
    assert model.stop_training and plateau.stopped


# ---------------------------------------------------------------------------
# Model files: bad ones are refused with a reason


def test_trained_metadata_refuses_foreign_or_forged_files(tmp_path, tiny_run):
    output = tiny_run[0]
    with pytest.raises(FileNotFoundError, match="no trained model file"):
        zoo.is_trained_model(str(tmp_path / "missing.keras"))
    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(plain)
    with pytest.raises(ValueError, match="not a trained astromask model"):
        zoo.trained_metadata(plain)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a trained astromask model"):
        astromask.probabilities(np.zeros((16, 16), np.float32), model=junk)

    def forged(name, change):
        path = tmp_path / name
        with zipfile.ZipFile(output) as src, zipfile.ZipFile(path, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename == "astromask.json":
                    meta = json.loads(data)
                    change(meta)
                    data = json.dumps(meta)
                dst.writestr(item, data)
        return path

    with pytest.raises(ValueError, match="unknown fields"):
        zoo.trained_metadata(forged("a.keras", lambda m: m["spec"].update(evil="x")))
    with pytest.raises(ValueError, match="newer astromask"):
        zoo.trained_metadata(forged("b.keras", lambda m: m.update(version=99)))
    with pytest.raises(ValueError, match="family"):
        zoo.trained_metadata(forged("c.keras", lambda m: m.update(family="os.system")))
    with pytest.raises(ValueError, match="must be a str, number or bool"):
        zoo.trained_metadata(forged("d.keras", lambda m: m["spec"].update(hidden=[1])))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        zoo.save_trained(keras.Sequential([keras.Input((1,))]), output, TINY)
    with pytest.raises(ValueError, match=".keras file"):
        zoo.save_trained(keras.Sequential([keras.Input((1,))]), tmp_path / "x.h5", TINY)


# ---------------------------------------------------------------------------
# The command line


@pytest.mark.remote_data
def test_train_command_fine_tunes_and_the_model_serves_as_detector(tmp_path):
    frames = []
    for seed in (6, 7):
        ccd, _ = simulated_frame((160, 160), seed=seed)
        path = tmp_path / f"frame{seed}.fits"
        fits.writeto(path, ccd.data, header=fits.Header({"GAIN": 1.5}))
        frames.append(path)
    rng = np.random.default_rng(0)
    dark = rng.normal(10, 3, (200, 200)).astype(np.float32)
    for y, x in rng.integers(5, 195, (40, 2)):
        dark[y, x : x + 3] += 800
    fits.writeto(tmp_path / "dark.fits", dark)
    before = {p: p.read_bytes() for p in frames}
    model = tmp_path / "mine.keras"
    run = subprocess.run(
        [
            sys.executable, "-m", "astromask.cli", "train", *map(str, frames),
            "--darks", str(tmp_path / "dark.fits"), "--output", str(model),
            "--start", "decam-attention/Att_deepCR", "--epochs", "1", "--steps", "2",
            "--validation-steps", "1", "--tile", "64", "--batch-size", "2", "-q",
        ],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert zoo.trained_metadata(model)["base"] == "decam-attention/Att_deepCR"
    assert all(p.read_bytes() == before[p] for p in frames)  # inputs untouched
    again = subprocess.run(
        [sys.executable, "-m", "astromask.cli", "train", str(frames[0]), "--darks",
         str(tmp_path / "dark.fits"), "--output", str(model), "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 1 and "overwrite" in again.stderr
    clean = subprocess.run(
        [sys.executable, "-m", "astromask.cli", "cosmicray", str(frames[0]), "--detector",
         str(model), "--inpaint", "medmask", "--output", str(tmp_path / "clean.fits"), "-q"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert fits.getheader(tmp_path / "clean.fits")["AMCRMOD"] == str(model)
    bad = subprocess.run(
        [sys.executable, "-m", "astromask.cli", "cosmicray", str(frames[0]), "--detector",
         str(tmp_path / "none.keras")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "no trained model file" in bad.stderr
