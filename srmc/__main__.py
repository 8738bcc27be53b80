"""`python -m srmc` runs the command line."""

import sys

from srmc.cli import main

sys.exit(main())
