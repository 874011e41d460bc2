"""``python -m cak_cli ...`` is ``cak ...``."""
import sys

from . import main

sys.exit(main())
