"""The networks astromask holds in memory: one per model for every frame size, at most a few."""

import numpy as np
import pytest

from astromask.zoo import networks


def test_the_cache_keeps_the_most_recently_used_networks(monkeypatch):
    from collections import OrderedDict

    monkeypatch.setattr(networks, "_models", OrderedDict())
    made = []

    def maker(key):
        def make():
            made.append(key)
            return f"net {key}"

        return make

    for key in range(networks.MAX_MODELS + 3):
        assert networks._remember(key, maker(key)) == f"net {key}"
    assert list(networks._models) == list(range(3, networks.MAX_MODELS + 3))
    networks._remember(3, maker(3))  # used again: now the most recent, not rebuilt
    assert made.count(3) == 1 and list(networks._models)[-1] == 3
    networks._remember("new", maker("new"))
    assert 4 not in networks._models and 3 in networks._models


@pytest.mark.remote_data
def test_frames_of_many_sizes_share_one_maximask(monkeypatch):
    """A night of cut-outs of varied sizes builds MaxiMask once."""
    from collections import OrderedDict

    import astromask

    monkeypatch.setattr(networks, "_models", OrderedDict())
    rng = np.random.default_rng(0)
    for side in (64, 70, 96, 101):
        astromask.flag(rng.normal(1000, 10, (side, side + 3)).astype(np.float32), progress=False)
    maximask = [key for key in networks._models if key[0] == "maximask"]
    assert len(maximask) == 1 and maximask[0][1] == (None, None)
