"""Reference outputs from upstream MaxiMask 1.4.1 (TensorFlow), for parity tests.

Runs in a separate environment that has ``tensorflow`` and ``MaxiMask==1.4.1``
(never astromask's own).  For each job it writes ``OUT.npz`` holding

* ``raw``: the network's probabilities, ``(14, ny, nx)`` float32, through
  upstream's own preprocessing, tiling and stitching (``process_hdu``);
* ``thresholded``: upstream's default output, prior-corrected with
  ``classes.priors`` and thresholded with ``classes.thresh``, ``(14, ny, nx)``
  uint8;

or, for a ``tile`` job, ``raw`` for a ``(n, 400, 400, 1)`` batch fed to the
SavedModel directly, or, for a ``track`` job, MaxiTrack's ``file_score`` (the
line that ``maxitrack FILE`` writes to ``maxitrack.out``, default prior 0.05)
and ``hdu_scores`` (``process_hdu`` of every image HDU it processes).

Usage::

    python tools/upstream_maximask.py JOBS.json

where JOBS.json is a list of ``{"kind": "hdu", "file": F, "hdu": N, "out": O}``,
``{"kind": "tile", "npy": F, "out": O}`` or ``{"kind": "track", "file": F, "out": O}``.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from maximask_and_maxitrack import utils  # noqa: E402
from maximask_and_maxitrack.maximask import maximask as mm  # noqa: E402
from maximask_and_maxitrack.maxitrack import maxitrack as mt  # noqa: E402


class _Log:
    def info(self, *args):
        pass

    error = info


def main(jobs_path):
    package = os.path.dirname(mm.__file__)
    net_dir = os.path.join(package, "model")
    config = os.path.join(package, "config")
    flags = utils.read_config_file(os.path.join(config, "classes.flags"), 14, _Log())
    priors = utils.read_config_file(
        os.path.join(config, "classes.priors"), 14, _Log(), to_float=True
    )
    thresh = utils.read_config_file(
        os.path.join(config, "classes.thresh"), 14, _Log(), to_float=True
    )
    model = tf.saved_model.load(net_dir)
    raw_runner = mm.MaxiMask_inference("", net_dir, flags, None, None, False, 8)
    thr_runner = mm.MaxiMask_inference("", net_dir, flags, priors, thresh, False, 8)
    track_dir = os.path.join(os.path.dirname(mt.__file__), "model")
    track_model = tf.saved_model.load(track_dir)
    tracker = mt.MaxiTrack_inference("", track_dir, 0.05, 1, 16)
    with open(jobs_path) as f:
        jobs = json.load(f)
    for job in jobs:
        if job["kind"] == "track":
            path = os.path.abspath(job["file"])
            hdus = [idx for idx, _ in tracker.make_hdu_tasks(path)]
            hdu_scores = [tracker.process_hdu(path, idx, track_model)[0][0] for idx in hdus]
            cwd = os.getcwd()
            with tempfile.TemporaryDirectory() as tmp:
                os.chdir(tmp)
                try:
                    tracker.process_file(path, track_model)
                    with open("maxitrack.out") as f:
                        file_score = float(f.read().split()[-1])
                finally:
                    os.chdir(cwd)
            np.savez(
                job["out"], file_score=file_score, hdus=np.array(hdus),
                hdu_scores=np.array(hdu_scores, dtype=np.float32),
            )
        elif job["kind"] == "tile":
            x = np.load(job["npy"]).astype(np.float32)
            zeros = np.zeros(14, np.float32)
            raw = model([x, np.arange(14, dtype=np.int32), zeros, zeros, zeros], False)
            np.savez(job["out"], raw=raw.numpy())
        else:
            raw, _ = raw_runner.process_hdu(job["file"], job["hdu"], "process", model)
            thr, _ = thr_runner.process_hdu(job["file"], job["hdu"], "process", model)
            np.savez(job["out"], raw=raw.astype(np.float32), thresholded=thr)
        print(job["out"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
