"""``python -m cak_train ...`` is ``cak train ...``."""
from .cli import main

raise SystemExit(main())
