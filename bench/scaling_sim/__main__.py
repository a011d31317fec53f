"""`python -m bench.scaling_sim`: see docs/scaling-simulation.md."""

import sys

from .cli import main

sys.exit(main())
