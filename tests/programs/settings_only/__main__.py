"""The first step of the real `__main__.py` alone: load the stack's settings.

`settings.load()` warns about each value a real update refuses in a dry run and stops an
update with one message naming every key; that is decided before any resource exists, so
tests of a config's warnings and refusals run this instead of building the whole platform.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import settings  # noqa: E402

settings.load()
