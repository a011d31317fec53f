"""bench.preview's import floor: the script it builds from a report loads each listed SDK class."""

from __future__ import annotations

import subprocess
import sys

from bench.preview import floor_script


def test_floor_loads_top_level_and_keyword_modules(tmp_path) -> None:
    script = floor_script(
        [
            "random:index/randomId:RandomId",  # the package's top level, not a module "index"
            "aws:lambda/function:Function",  # a Python keyword: the module is lambda_
            "groundwork:web:WebTier",  # a component: nothing to import
            "pulumi:pulumi:Stack",
        ]
    )
    assert "groundwork" not in script and "pulumi:pulumi" not in script, script
    path = tmp_path / "floor.py"
    path.write_text(script + "print('loaded')\n")
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr


def test_floor_fails_on_a_class_the_sdk_lacks(tmp_path) -> None:
    path = tmp_path / "floor.py"
    path.write_text(floor_script(["random:index/randomNothing:RandomNothing"]))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "RandomNothing" in done.stderr, done.stderr
