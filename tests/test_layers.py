"""MaxPoolWithMask / MaxUnpool against a numpy model of TF's MaxPoolWithArgmax."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from astromask.models.layers import MaxPoolWithMask, MaxUnpool  # noqa: E402


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
