"""``python -m hybridgrad`` runs the command line."""

import sys

from hybridgrad.cli import main

sys.exit(main())
