"""Local files the program uploads (Lambda handlers, the canary script) as Pulumi assets.

Components never locate these files themselves: blueprint passes in the directory (or the
files), found from the program's own location. The asset records the path relative to the
working directory (the project under the CLI and the offline recorder alike), so the state
does not depend on where the repository is checked out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi


def file_asset(local: Path) -> pulumi.FileAsset:
    """`local` as an asset whose recorded path is relative to the working directory."""
    return pulumi.FileAsset(os.path.relpath(local))


def handler_archive(local: Path) -> pulumi.AssetArchive:
    """A Lambda code archive holding the single file `local` at its root."""
    return pulumi.AssetArchive({local.name: file_asset(local)})
