"""Torch reference outputs of Bhavanam et al.'s four DECam models, for parity tests.

Bhavanam et al. ("Cosmic Ray Rejection with Attention Augmented Deep
Learning") publish their trained state dicts in GitHub
lfovia/Attention-Augmented-Cosmic-Ray-Detection-in-Astronomical-Images, with
no licence and no package: their code cannot be installed (CI reaches PyPI
only) nor copied.  This script is therefore an *independent* PyTorch
implementation of the architecture, written from the paper and the state
dicts, not their code: the UNet of Cosmic-CoNN (3 levels, 32/64/128
channels, 2x2 transposed convolutions, one normalisation module applied
twice per double convolution), with batch norm (``deepCR``, ``Att_deepCR``)
or 8-group norm without affine weights (``Cosmic-CoNN``,
``Att_Cosmic-CoNN``), and for the gated pair an additive attention gate on
each skip connection (1x1 convolutions of the gate and the skip to half the
channels, sharing one norm; ReLU of their sum; 1x1 convolution to one
channel, norm, sigmoid; the skip multiplied by it).  Each file is loaded
with ``load_state_dict(strict=True)``, so every tensor of the file must find
its place in this structure and vice versa; the network runs in eval mode
on the whole frame, in float32, as the models were trained (ADU with the
sky, no scaling).

It runs in the ``upstream-torch`` tox environment (torch 2.13.0, CPU) and is
never a dependency of astromask; the Keras models are checked against it.

Usage::

    python tools/reference_attention_torch.py --jobs JOBS.json

JOBS.json is a list of ``{"weights": PATH.pth, "input": IN.npy, "output":
OUT.npy}``; the architecture is read from the file name (``Att_`` prefix:
gates; ``deepCR``: batch norm, otherwise group norm).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _networks():
    import torch
    from torch import nn

    def norm_layer(kind, channels, groups=8):
        if kind == "batch":
            return nn.BatchNorm2d(channels)
        return nn.GroupNorm(min(groups, channels), channels, affine=False)

    class Double(nn.Module):
        def __init__(self, cin, cout, kind):
            super().__init__()
            shared = norm_layer(kind, cout)
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                shared,
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1),
                shared,
                nn.ReLU(),
            )

        def forward(self, x):
            return self.conv(x)

    class Inc(nn.Module):
        def __init__(self, cin, cout, kind):
            super().__init__()
            self.conv = Double(cin, cout, kind)

        def forward(self, x):
            return self.conv(x)

    class Down(nn.Module):
        def __init__(self, cin, cout, kind):
            super().__init__()
            self.down_cov = nn.Sequential(nn.MaxPool2d(2), Double(cin, cout, kind))

        def forward(self, x):
            return self.down_cov(x)

    class Gate(nn.Module):
        def __init__(self, channels, kind):
            super().__init__()
            half = channels // 2
            shared = norm_layer(kind, half)
            self.W_gate = nn.Sequential(nn.Conv2d(channels, half, 1), shared)
            self.W_x = nn.Sequential(nn.Conv2d(channels, half, 1), shared)
            self.psi = nn.Sequential(nn.Conv2d(half, 1, 1), norm_layer(kind, 1, 1), nn.Sigmoid())

        def forward(self, gate, skip):
            return skip * self.psi(torch.relu(self.W_gate(gate) + self.W_x(skip)))

    class Up(nn.Module):
        def __init__(self, cin, cout, kind, gated):
            super().__init__()
            self.up_conv = nn.ConvTranspose2d(cin, cout, 2, stride=2)
            self.conv = Double(cin, cout, kind)
            if gated:
                self.attention = Gate(cout, kind)
            self.gated = gated

        def forward(self, x, skip):
            x = self.up_conv(x)
            if self.gated:
                skip = self.attention(x, skip)
            return self.conv(torch.cat([skip, x], dim=1))

    class OutConv(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.conv = nn.Conv2d(cin, 1, 1)

        def forward(self, x):
            return self.conv(x)

    class UNet(nn.Module):
        def __init__(self, kind, gated, hidden=32):
            super().__init__()
            self.inc = Inc(1, hidden, kind)
            self.down1 = Down(hidden, 2 * hidden, kind)
            self.down2 = Down(2 * hidden, 4 * hidden, kind)
            self.up2 = Up(4 * hidden, 2 * hidden, kind, gated)
            self.up1 = Up(2 * hidden, hidden, kind, gated)
            self.outc = OutConv(hidden)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x = self.up2(self.down2(x2), x2)
            return torch.sigmoid(self.outc(self.up1(x, x1)))

    class Wrapped(nn.Module):
        def __init__(self, network):
            super().__init__()
            self.module = network

        def forward(self, x):
            return self.module(x)

    return UNet, Wrapped


def _run(jobs):
    import torch

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    unet, wrapped = _networks()
    models = {}
    for job in jobs:
        path = Path(job["weights"])
        if path not in models:
            kind = "batch" if "deepCR" in path.name else "group"
            net = wrapped(unet(kind, gated=path.name.startswith("Att_")))
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state, strict=True)
            models[path] = net.eval()
        image = np.load(job["input"]).astype(np.float32)
        with torch.no_grad():
            probs = models[path](torch.from_numpy(image)[None, None]).numpy()[0, 0]
        np.save(job["output"], probs.astype(np.float32))
        print(f"{path.name}: {image.shape} -> {job['output']} (max {probs.max():.4f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", required=True, help="JSON list of jobs")
    args = parser.parse_args(argv)
    with open(args.jobs) as f:
        _run(json.load(f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
