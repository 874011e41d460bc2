"""cak_dsp: the CAK DSP core. Presets, normalization, the 3x3 residual and a Numba streaming
STFT engine that also renders offline. No torch, no devices."""
from . import jit_stamp  # noqa: F401  (first: stamps the Numba cache of every jitted function below)
from .chain import Chain
from .chain_file import ChainError, load_chain
from .engine import SAMPLE_LIMIT, CakEngine
from .texture import TEXTURE_RANGE
from .geometry import FrameGeometry, standard_geometry
from .preset import Preset, PresetError, load_preset
from .file_render import render_file
from .render import render
from .cak_stage import Cak
from .plugin_stage import PluginStage
from .external import ExternalStage

__all__ = [
    "Cak", "CakEngine", "Chain", "ChainError", "ExternalStage", "FrameGeometry", "PluginStage", "Preset", "PresetError",
    "SAMPLE_LIMIT", "TEXTURE_RANGE", "load_chain", "load_preset", "render", "render_file", "standard_geometry",
]
