"""The release bundle: a deterministic zip of the app directory (no AWS calls).

Shared by `ops.release` (which uploads it) and the Pulumi program (which publishes the same
bytes as the pipeline's first source object), so both always mean the same release. Sorted
entries, fixed timestamps and normalised modes: the same tree always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

REQUIRED_FILES = ("appspec.yml", "buildspec.yml")
# Caches and local build output (CodeBuild makes vendor/ and reports/), never released.
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".git"}
EXCLUDED_ROOT_DIRS = {"vendor", "reports"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_NAMES = {".DS_Store"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


class ReleaseError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@dataclass(frozen=True)
class Bundle:
    data: bytes
    files: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def bundle_files(app_dir: Path) -> list[str]:
    """The bundle's files, as sorted POSIX paths relative to `app_dir`."""
    found: list[str] = []
    for root, dirs, files in os.walk(app_dir):
        top = Path(root) == app_dir
        dirs[:] = [
            d for d in dirs if d not in EXCLUDED_DIRS and not (top and d in EXCLUDED_ROOT_DIRS)
        ]
        for name in files:
            if name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            found.append((Path(root) / name).relative_to(app_dir).as_posix())
    return sorted(found)


def check_bundle(app_dir: Path) -> None:
    if not app_dir.is_dir():
        raise ReleaseError(f"app directory {app_dir} does not exist")
    missing = [name for name in REQUIRED_FILES if not (app_dir / name).is_file()]
    if missing:
        raise ReleaseError(
            f"{app_dir} is not a deployable bundle: {' and '.join(missing)} missing at its root "
            "(CodeBuild reads buildspec.yml and CodeDeploy reads appspec.yml from there)"
        )


def build_bundle(app_dir: Path) -> Bundle:
    """Zip `app_dir` deterministically; refuses a directory without the required files."""
    check_bundle(app_dir)
    files = bundle_files(app_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in files:
            path = app_dir / name
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Only the executable bit matters (CodeDeploy runs the hook scripts).
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3  # Unix, so unzip honours the mode
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return Bundle(buffer.getvalue(), tuple(files))
