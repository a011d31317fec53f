"""`python -m settings schema|reference|readme`: print the stack-file schema or the config
reference, or rewrite the README's reference section."""

import sys

from settings.docs import _main

raise SystemExit(_main(sys.argv[1:]))
