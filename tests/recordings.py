"""Recordings shared by every test process of one run.

Each xdist worker used to record dev, prod and the prod preview itself. A recording is a pure
function of the program's sources, the stack file and the SDK versions, so the first worker
that needs one records it and writes it under a key hashed from all of those; the others wait
on a file lock and read it back. A changed source or stack file changes the key, so a stale
recording can never be read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from offline.model import Recording
from offline.recorder import record
from offline.stackfile import read_config

# What a recording depends on, relative to the project root: the program, the components and
# settings it runs, the sources it ships into resources (ops/, app/), and the offline engine
# (its mocks decide every fake output).
SOURCES: tuple[str, ...] = (
    "__main__.py",
    "blueprint.py",
    "settings.py",
    "settings",
    "Pulumi.yaml",
    "components",
    "ops",
    "app",
    "offline",
)
SDKS: tuple[str, ...] = ("pulumi", "pulumi-aws", "pulumi-random")


def _files(root: Path, names: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = root / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )
    return sorted(found)


def recording_key(root: Path, stack: str, stack_file: Path | None, **options: Any) -> str:
    """A hash of everything `record(stack, ...)` depends on."""
    digest = hashlib.sha256()
    shipped = root / f"Pulumi.{stack}.yaml"
    for path in _files(root, SOURCES):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    # A stack file counts by its config, not its bytes: each worker writes the same variant to a
    # path of its own, and a variant equal to the shipped file (comments aside) is the same stack.
    config = read_config(stack_file or shipped)
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for sdk in SDKS:
        digest.update(f"{sdk}=={metadata.version(sdk)}".encode())
    # preview=False is record()'s default: asked for or not, it is the same recording.
    if options.get("preview") is False:
        options = {k: v for k, v in options.items() if k != "preview"}
    digest.update(repr((stack, sorted(options.items()))).encode())
    return digest.hexdigest()[:32]


def shared_record(
    cache_dir: Path,
    root: Path,
    stack: str,
    *,
    stack_file: Path | None = None,
    **options: Any,
) -> Recording:
    """`record(stack, ...)` once per key across processes; later callers read the pickle."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = recording_key(root, stack, stack_file, **options)
    path = cache_dir / f"{stack}-{key}.pickle"
    with open(cache_dir / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            with path.open("rb") as f:
                return pickle.load(f)
        rec = record(stack, project_dir=root, stack_file=stack_file, **options)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as f:
            pickle.dump(rec, f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
        return rec
