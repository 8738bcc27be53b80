"""`python -m srmc` runs the command line."""

import sys

from srmc.tools.cli import main

sys.exit(main())
