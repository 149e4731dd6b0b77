"""astromask's Keras layers against numpy references (TF's MaxPoolWithArgmax, torch GroupNorm)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from astromask.convert.batchnorm import fold_batchnorm_arrays  # noqa: E402
from astromask.models.layers import GroupNorm, MaxPoolWithMask, MaxUnpool, unet  # noqa: E402


def _reference_pool(x):
    """Loop version of TF's kernel: SAME padding, first maximum wins."""
    b, h, w, c = x.shape
    oh, ow = (h + 1) // 2, (w + 1) // 2
    pooled = np.empty((b, oh, ow, c), x.dtype)
    mask = np.zeros_like(x)
    for n in range(b):
        for i in range(oh):
            for j in range(ow):
                for k in range(c):
                    best, where = None, None
                    for di in range(2):
                        for dj in range(2):
                            y, xx = 2 * i + di, 2 * j + dj
                            if y < h and xx < w and (best is None or x[n, y, xx, k] > best):
                                best, where = x[n, y, xx, k], (y, xx)
                    pooled[n, i, j, k] = best
                    mask[n, where[0], where[1], k] = 1
    return pooled, mask


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape", [(2, 6, 8, 3), (1, 7, 5, 2), (1, 1, 3, 1)])
def test_pool_and_unpool_match_reference(shape, data_format):
    rng = np.random.default_rng(0)
    # Rounded values make ties frequent, and a zero block makes all-equal windows.
    x = np.round(rng.normal(size=shape), 1).astype("float32")
    x[:, :2, :2] = 0
    ref_pooled, ref_mask = _reference_pool(x)
    y = rng.normal(size=ref_pooled.shape).astype("float32")
    expected = np.zeros_like(x)
    up = np.repeat(np.repeat(y, 2, axis=1), 2, axis=2)[:, : shape[1], : shape[2]]
    expected[ref_mask == 1] = up[ref_mask == 1]

    def layout(a):  # NHWC reference -> layer layout
        return a if data_format == "channels_last" else np.moveaxis(a, -1, 1)

    pooled, mask = MaxPoolWithMask(data_format=data_format)(layout(x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pooled), layout(ref_pooled))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), layout(ref_mask))
    # Exactly one selected pixel per window and channel.
    assert keras.ops.convert_to_numpy(mask).sum() == ref_pooled.size

    unpooled = MaxUnpool(data_format=data_format)([layout(y), mask])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(unpooled), layout(expected))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_group_norm_matches_float64_reference(data_format):
    """torch.nn.GroupNorm semantics, accurate when a group's mean dwarfs its spread."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (2, 256, 256, 8)).astype(np.float32)
    x[0, ..., :4] += 2.0e4  # first group of the first sample: mean 2e4, sigma 1
    x[1, 100:110, 100:110, 4:] += 3.0e4  # a "star" in one group of the second sample
    gamma = rng.uniform(0.5, 2, 8).astype(np.float32)
    beta = rng.normal(0, 1, 8).astype(np.float32)
    g = x.astype(np.float64).reshape(2, 256, 256, 2, 4)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = ((g - mean) ** 2).mean(axis=(1, 2, 4), keepdims=True)
    expected = ((g - mean) / np.sqrt(var + 1e-5)).reshape(x.shape) * gamma + beta

    layer = GroupNorm(2, data_format=data_format)
    inputs = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    layer.build(inputs.shape)
    layer.set_weights([gamma, beta])
    out = np.asarray(keras.ops.convert_to_numpy(layer(inputs)))
    if data_format == "channels_first":
        out = np.moveaxis(out, 1, -1)
    # The float32 spacing at 2e4 is 2e-3 (sigma = 1): the mean itself cannot be
    # stored closer, so two spacings is the float32 floor for that group.
    np.testing.assert_allclose(out, expected, atol=4e-3)
    ordinary = np.ones(out.shape, bool)
    ordinary[0, ..., :4] = False
    np.testing.assert_allclose(out[ordinary], expected[ordinary], atol=2e-5)
    clone = GroupNorm.from_config(layer.get_config())
    assert (clone.groups, clone.epsilon, clone.data_format) == (2, 1e-5, data_format)
    with pytest.raises(ValueError, match="do not split"):
        GroupNorm(3).build((1, 8, 8, 8))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_unet_skeleton_names_shapes_and_gate(data_format):
    """The shared deepCR/Cosmic-CoNN skeleton: layer names, order, channels, gate."""
    axis = 1 if data_format == "channels_first" else -1
    calls = []

    def block(x, filters, name):
        return keras.layers.Conv2D(
            filters, 3, padding="same", data_format=data_format, name=f"{name}_conv"
        )(x)

    def gate(x, skip, name):
        calls.append((name, int(x.shape[axis]), int(skip.shape[axis])))
        return keras.layers.Add(name=f"{name}_gate")([skip, x])

    net = unet(
        keras.Input((16, 16, 2), name="image"),
        depth=3,
        filters=4,
        double_conv=block,
        up_name=lambda level: f"up{9 - level}",
        skip_gate=gate,
        activation=None,
        data_format=data_format,
        name="tiny",
    )
    names = [layer.name for layer in net.layers]
    body = [
        "inc_conv", "down1_pool", "down1_conv", "down2_pool", "down2_conv",
        "up7_up", "up7_gate", "up7_concat", "up7_conv",
        "up8_up", "up8_gate", "up8_concat", "up8_conv", "outc",
    ]  # fmt: skip
    if data_format == "channels_first":
        body = ["to_channels_first", *body, "to_channels_last"]
    assert names == ["image", *body]
    assert calls == [("up7", 8, 8), ("up8", 4, 4)]
    assert net.name == "tiny"
    assert (net.input_shape, net.output_shape) == ((None, 16, 16, 2), (None, 16, 16, 1))
    assert net.get_layer("up7_conv").kernel.shape == (3, 3, 16, 8)
    assert net.get_layer("outc").activation is keras.activations.linear


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fold_batchnorm_arrays(dtype):
    """conv then inference batch norm == folded conv, in both kernel layouts, same dtype."""
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 2, 5)).astype(dtype)  # Keras (kh, kw, in, out)
    bias, beta, mean = (rng.normal(size=5).astype(dtype) for _ in range(3))
    gamma, var = (rng.uniform(0.5, 2, 5).astype(dtype) for _ in range(2))
    k, b = fold_batchnorm_arrays(kernel, bias, gamma, beta, mean, var, 1e-5, out_axis=-1)
    assert (k.dtype, b.dtype, k.shape) == (dtype, dtype, kernel.shape)
    scale = gamma / np.sqrt(var + 1e-5)
    np.testing.assert_array_equal(k, kernel * scale)
    np.testing.assert_array_equal(b, (bias - mean) * scale + beta)
    # torch's (out, in, kh, kw) layout gives the same bits, transposed.
    kt, bt = fold_batchnorm_arrays(
        kernel.transpose(3, 2, 0, 1), bias, gamma, beta, mean, var, 1e-5, out_axis=0
    )
    np.testing.assert_array_equal(kt.transpose(2, 3, 1, 0), k)
    np.testing.assert_array_equal(bt, b)
    # Applied to a patch: conv + BN equals the folded conv.
    patch = rng.normal(size=(3, 3, 2))
    conv = np.tensordot(patch, kernel.astype(np.float64), 3) + bias
    bn = gamma * (conv - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(np.tensordot(patch, k, 3) + b, bn, rtol=1e-5, atol=1e-5)


def test_a_shape_free_maximask_matches_one_built_for_each_size():
    """One network for every tile size gives each size's results bit for bit.

    The zoo builds MaxiMask once with unknown rows and columns
    (`astromask.zoo.SHAPE_FREE_FAMILIES`); TensorFlow then traces it at the
    first size and once more without sizes, which must not change a bit,
    odd sizes (padded pooling) and ties included.
    """
    import keras

    from astromask import zoo
    from astromask.models.maximask import build_maximask

    free = build_maximask((None, None), name="free")
    assert free.input_shape == (None, None, None, 1)
    rng = np.random.default_rng(5)
    free.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in free.get_weights()])
    for shape in [(64, 64), (66, 70), (32, 96), (50, 50), (64, 64)]:
        fixed = build_maximask(shape, name="fixed")
        fixed.set_weights(free.get_weights())
        x = rng.normal(size=(2, *shape, 1)).astype("float32")
        x[:, :, : shape[1] // 3] = 0  # whole windows of ties after the ReLUs
        got = keras.ops.convert_to_numpy(free.predict_on_batch(x))
        want = keras.ops.convert_to_numpy(fixed.predict_on_batch(x))
        assert got.shape == (2, *shape, 14)
        np.testing.assert_array_equal(got, want)
        # What astromask runs: one trace for every shape on TensorFlow.
        np.testing.assert_array_equal(zoo.predictor(free)(x), want)
