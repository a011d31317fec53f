"""Stack-file reading for the offline engine: the reader lives in `settings.stackfile` (the
program's settings read the same files, and settings must not depend on the offline engine);
this module keeps the engine's import path."""

from settings.stackfile import (
    SECRET_PLACEHOLDER,
    StackConfig,
    StackFileError,
    load,
    merge,
    project_name,
    read_config,
)

__all__ = [
    "SECRET_PLACEHOLDER",
    "StackConfig",
    "StackFileError",
    "load",
    "merge",
    "project_name",
    "read_config",
]
