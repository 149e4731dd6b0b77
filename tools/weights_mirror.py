"""Build and serve a loopback mirror of astromask's pretrained weights.

The upstream weight files also ship inside the upstream packages on PyPI
(MaxiMask, deepCR, cosmic-conn).  This script downloads those distributions
with ``pip download --no-deps``, lays out every file of astromask's registry
as ``{owner}/{repo}/{commit}/{path}``, checks each SHA-256, adds the files of
``../shared/weights`` (already in that layout), and can serve the folder on
127.0.0.1 so that ``ASTROMASK_WEIGHTS_URL=http://127.0.0.1:PORT`` exercises
pooch's real download path offline.

Usage::

    python tools/weights_mirror.py build MIRROR_DIR [--extra ../shared/weights]
    python tools/weights_mirror.py serve MIRROR_DIR --port 8765

Not shipped with the package.
"""

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

UPSTREAM_DISTRIBUTIONS = ["MaxiMask==1.4.1", "deepCR==0.3.1", "cosmic-conn==0.6.1"]


def _sha256(path):
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def _unpack(archive, dest):
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4, 3.12
                tf.extractall(dest, filter="data")
                return
            # Older Pythons: extract plain files and folders only, inside dest.
            dest = Path(dest).resolve()
            for member in tf.getmembers():
                target = (dest / member.name).resolve()
                if not (member.isfile() or member.isdir()) or dest not in target.parents:
                    continue
                tf.extract(member, dest, set_attrs=False)


def _candidates(root, rel_path):
    """Files under ``root`` whose path ends with ``rel_path`` (or its tail)."""
    parts = Path(rel_path).parts
    for start in range(len(parts)):
        tail = Path(*parts[start:])
        for hit in root.rglob(tail.name):
            if hit.is_file() and hit.as_posix().endswith(tail.as_posix()):
                yield hit


def _registry():
    """astromask's registry, from the model table astromask/presets.py alone (plain data)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "astromask" / "presets.py"
    spec = importlib.util.spec_from_file_location("_astromask_presets", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return {f.key: f for entry in module.MODELS.values() for f in entry.files}


def build(mirror, extra=None, downloads=None):
    """Fill ``mirror`` with every registry file; return the number missing."""
    REGISTRY = _registry()

    mirror = Path(mirror)
    mirror.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dl = Path(downloads) if downloads else tmp / "dl"
        dl.mkdir(parents=True, exist_ok=True)
        if not any(dl.iterdir()):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dl)]
                + UPSTREAM_DISTRIBUTIONS,
                check=True,
            )
        unpacked = tmp / "src"
        for archive in sorted(dl.iterdir()):
            _unpack(archive, unpacked / archive.name)
        roots = [unpacked] + ([Path(extra)] if extra and Path(extra).is_dir() else [])
        missing = 0
        for key, entry in REGISTRY.items():
            target = mirror / key
            if target.exists() and _sha256(target) == entry.sha256:
                continue
            direct = [Path(extra) / key] if extra else []
            found = None
            for root_hit in direct + [h for r in roots for h in _candidates(r, entry.path)]:
                if root_hit.is_file() and _sha256(root_hit) == entry.sha256:
                    found = root_hit
                    break
            if found is None:
                where = (
                    f"not in {extra}" if extra else "no PyPI package carries it; pass --extra "
                    "FOLDER with the file in owner/repo/commit/path layout (the project's "
                    "../shared/weights holds the DECam attention-UNet files)"
                )
                print(f"missing: {key} ({where})", file=sys.stderr)
                missing += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, target)
        print(f"mirror {mirror}: {len(REGISTRY) - missing} of {len(REGISTRY)} files")
        return missing


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(mirror, port):
    handler = functools.partial(_QuietHandler, directory=str(mirror))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"serving {mirror} on http://127.0.0.1:{httpd.server_address[1]}", flush=True)
        httpd.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="download upstream packages and lay out the mirror")
    b.add_argument("mirror")
    b.add_argument("--extra", help="folder already in owner/repo/commit/path layout")
    b.add_argument("--downloads", help="folder with (or for) the upstream archives")
    s = sub.add_parser("serve", help="serve the mirror on 127.0.0.1")
    s.add_argument("mirror")
    s.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    if args.command == "build":
        return 1 if build(args.mirror, args.extra, args.downloads) else 0
    serve(args.mirror, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
