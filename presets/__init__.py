"""cak's shipped presets, installed as the import package ``cak_presets`` (package data: ``*.json``
and the licence of the imported published kernel). Read them with ``cak_dsp.presets``."""
