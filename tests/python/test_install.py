"""`cmake --install` of the build into a fresh prefix gives an importable
`nuri` package (the extension finds the installed runtime library through
its relative RPATH), and the README's Python quick start runs against it."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_install_and_readme_quick_start(tmp_path):
    build = pathlib.Path(os.environ["NURI_BUILD_DIR"])
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)],
                   check=True, capture_output=True)
    sites = list(prefix.glob("lib/python3*/*-packages/nuri/__init__.py"))
    assert len(sites) == 1, sites
    site = sites[0].parent.parent
    assert list(site.glob("nuri/_nuri*.so")) and (site / "nuri" / "__init__.pyi").exists()
    if not (build / "models" / "bert-tiny.onnx").exists():
        pytest.skip("the build made no models/bert-tiny.onnx")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"### From Python.*?```python\n(.*?)```", readme, re.S).group(1)
    lines = block.strip().splitlines()
    assert len(lines) == 5, "the README promises a five-line session"
    code = block.replace('"build/', f'"{build}/')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    p = subprocess.run([sys.executable, "-c", "import nuri; print(nuri.__file__)\n" + code],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    first, second = p.stdout.splitlines()[:2]
    assert first.startswith(str(site)), first  # the installed copy, not the build tree
    assert "cycles" in second and "(1, 128" in second, second
