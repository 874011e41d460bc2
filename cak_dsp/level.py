"""Level handling after the engine: the ``level`` option, the whole-file match and the output stage.

The published effect adds 7-19 dB, and the published GUI matched the whole file's RMS to the
input's afterwards, then soft-clipped every sample with ``tanh(0.95 x) / 0.95``. cak makes the
level explicit, with one option, ``level``, everywhere (CLI ``--level``, chain files
``"level"``, the API ``level=``):

``match``
    The published GUI's whole-file RMS match (all channels together, the gain limited to
    +/-20 dB, as there): the gain that brings the published output to the input's RMS, so every
    bin below the spectral ceiling has the published level (see :func:`match_gain`). Offline
    only: it takes the whole signal, so files are rendered in two passes (the first only
    measures) and memory stays flat; the first pass keeps the engine's output of a first CAK
    stage for the second when it fits ``cak_stage.KEEP_BYTES``, so the engine runs once. The default of ``cak render`` and the API.
``follow``
    The engine's loudness follower (:mod:`cak_dsp.engine`): a smoothed wet/dry power ratio
    over seconds keeps the output's loudness at the input's without touching transients.
    The same in live and offline, so a live take and its offline render are identical.
    The default of ``cak live``.
``off``
    No level handling: the raw published level.

The output stage (:class:`OutputStage`) then applies, per sample: the match gain; the
published soft clip (``soft_clip=True``, the default), blended in by the texture's gate so that
c = 0 stays the identity; and a ceiling no sample exceeds (NaN and infinity become silence).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .delay import DelayLine
from .engine import SAMPLE_LIMIT
from .residual import gate_blend
from .vecmath import JIT, vexp

LEVEL_MODES = ("match", "follow", "off")
DEFAULT_LEVEL = "match"
DEFAULT_LIVE_LEVEL = "follow"
MATCH_LIMITS = (0.1, 10.0)
SOFT_CLIP_DRIVE = 0.95
BLEND_SMOOTHING_S = 0.01
CEILING_RANGE_DB = (-60.0, 80.0)

# The follower's time constant: long enough that a material's second-to-second swings of its
# wet/dry ratio do not move the level (benchmarks/fidelity.py: distance to the published output),
# short enough to follow a new song or a change of texture within seconds, like a short-term
# loudness meter (EBU R128's is 3 s).
FOLLOW_SECONDS = 4.0

# float parameter slots of the output stage
_GAIN, _SMOOTH, _TAU, _TEMP, _CEILING, _CLIP, _FOLLOW, _DECAY = range(8)
# float state slots: soft-clip blend, the follower's smoothed dry and wet power
_BLEND, _P_DRY, _P_WET = range(3)


def check_level(level: str, live: bool = False) -> str:
    """``level`` if it is one of :data:`LEVEL_MODES` (``match`` not live); else a one-line ValueError."""
    if level not in LEVEL_MODES:
        raise ValueError(f"unknown level mode {level!r}; choose one of: {', '.join(LEVEL_MODES)}")
    if live and level == "match":
        raise ValueError("level mode 'match' needs the whole file; live, choose 'follow' or 'off'")
    return level


def match_gain(energy_in: float, energy_out: float, spectral: tuple[float, float, float] | None = None) -> float:
    """The gain of the published whole-file RMS match, within MATCH_LIMITS.

    ``energy_in`` and ``energy_out`` are the input's and the output's energy over the whole
    signal. ``spectral`` are the engine's :attr:`~cak_dsp.CakEngine.energies`: the output's
    energy is then scaled by the published over the gain-mode spectral energy, so the gain is
    the one the published GUI applies to its own output, in which bins above the spectral
    ceiling were flattened to it. Every bin below the ceiling then has the published level,
    and louder bins keep what they had above it.
    """
    if spectral is not None and spectral[1] > 0.0:
        energy_out *= spectral[2] / spectral[1]
    if not energy_out > 0.0 or not math.isfinite(energy_out):
        return 1.0
    lo, hi = MATCH_LIMITS
    return float(min(max(math.sqrt(energy_in / energy_out), lo), hi))


def ceiling_from_db(ceiling_db: float) -> float:
    """Linear ceiling from dBFS, checked against CEILING_RANGE_DB."""
    lo, hi = CEILING_RANGE_DB
    if not (math.isfinite(ceiling_db) and lo <= ceiling_db <= hi):
        raise ValueError(f"ceiling must be between {lo:g} and {hi:g} dBFS, got {ceiling_db}")
    return 10.0 ** (ceiling_db / 20.0)


@njit(**JIT)
def sum_squares(x) -> float:
    """The energy of ``x`` (channels, n; float32, any strides): the sum of its squares, in
    float64, without a float64 copy (four partial sums a row, so the adds overlap)."""
    total = 0.0
    for c in range(x.shape[0]):
        row = x[c]
        n = row.shape[0]
        s0 = s1 = s2 = s3 = 0.0
        i = 0
        while i + 4 <= n:
            v0, v1, v2, v3 = np.float64(row[i]), np.float64(row[i + 1]), np.float64(row[i + 2]), np.float64(row[i + 3])
            s0 += v0 * v0
            s1 += v1 * v1
            s2 += v2 * v2
            s3 += v3 * v3
            i += 4
        while i < n:
            v = np.float64(row[i])
            s0 += v * v
            i += 1
        total += (s0 + s1) + (s2 + s3)
    return total


@njit(**JIT)
def _bounded(v: float) -> float:
    """A sample as the follower measures it: NaN and infinity as silence, the rest within
    +/-SAMPLE_LIMIT (as the engine reads its input), so garbage cannot poison its averages."""
    if not math.isfinite(v):
        return 0.0
    return min(max(v, -SAMPLE_LIMIT), SAMPLE_LIMIT)


@njit(**JIT)
def _settle(w: float, target: float, smooth: float, gain: float, blends, gains, n: int) -> float:
    """The blend's one-pole from ``w`` towards a fixed ``target``, ``n`` samples into ``blends``
    (and ``gain`` into ``gains``); returns the last value. Once an update leaves it unchanged it
    stays so: the rest is filled without the serial chain."""
    for i in range(n):
        gains[i] = gain
    for i in range(n):
        before = w
        w += (target - w) * smooth
        if w < 1e-12:
            w = 0.0
        blends[i] = w
        if w == before:
            for j in range(i + 1, n):
                blends[j] = w
            return w
    return w


@njit(**JIT)
def _output_block(x, y, dry, controls, stride, fp, state, scratch):
    """``y = ceiling-clamp(blend(gain * x))`` sample by sample; ``dry`` is the input aligned with
    ``x`` (read by the follower); ``controls[i * stride]`` is the texture at sample ``i``.

    Two loops: the per-sample recurrences (the blend's one-pole, the follower's powers) write
    each sample's blend and gain into ``scratch`` (3, >= n); the per-sample, per-channel soft
    clip then runs without a recurrence into ``scratch[2]`` and is copied into ``y``, so it
    vectorizes even when ``y`` is ``x`` (LLVM's vector loop refuses arrays that overlap). With one texture for the block and
    no follower, the one-pole stops once it reaches its fixed point (an update that leaves it
    unchanged leaves it unchanged forever): the rest of the block takes that value, the same
    numbers without the serial chain.
    """
    channels, n = x.shape
    smooth, ceiling, decay = fp[_SMOOTH], fp[_CEILING], fp[_DECAY]
    clip = fp[_CLIP] > 0.0
    follow = fp[_FOLLOW] > 0.0
    lo, hi = MATCH_LIMITS
    inv_drive = 1.0 / SOFT_CLIP_DRIVE
    target = gate_blend(controls[0], fp[_TAU], fp[_TEMP])
    w, p_dry, p_wet = state[_BLEND], state[_P_DRY], state[_P_WET]
    blends = scratch[0]
    gains = scratch[1]
    if not (stride or follow):
        w = _settle(w, target, smooth, fp[_GAIN], blends, gains, n)
    for i in range(n if stride or follow else 0):
        if stride:
            target = gate_blend(controls[i * stride], fp[_TAU], fp[_TEMP])
        w += (target - w) * smooth
        if w < 1e-12:
            w = 0.0
        gain = fp[_GAIN]
        if follow:
            e_dry = 0.0
            e_wet = 0.0
            for ch in range(channels):
                d = _bounded(dry[ch, i])
                w_ = _bounded(x[ch, i])
                e_dry += d * d
                e_wet += w_ * w_
            p_dry = decay * p_dry + (1.0 - decay) * e_dry
            p_wet = decay * p_wet + (1.0 - decay) * e_wet
            if p_wet > 1e-30 and p_dry != p_wet:
                gain *= min(max(np.sqrt(p_dry / p_wet), lo), hi)
        blends[i] = w
        gains[i] = gain
    result = scratch[2]
    for ch in range(channels):
        xs = x[ch]
        ys = y[ch]
        for i in range(n):
            v = gains[i] * xs[i]
            if clip:
                soft = (1.0 - 2.0 / (vexp(2.0 * SOFT_CLIP_DRIVE * v) + 1.0)) * inv_drive
                v += blends[i] * (soft - v)
            v = v if abs(v) < math.inf else 0.0
            result[i] = min(max(v, -ceiling), ceiling)
        for i in range(n):
            ys[i] = result[i]
    state[_BLEND], state[_P_DRY], state[_P_WET] = w, p_dry, p_wet


class OutputStage:
    """Loudness follower or match gain, gate-blended soft clip and ceiling; allocation-free.

    ``threshold`` and ``temperature`` are the preset's gate; ``ceiling`` is linear (1.0 is
    0 dBFS). ``gain`` may be set between blocks (the whole-file match sets it before the
    second pass). The soft clip's blend follows the texture through a 10 ms one-pole, so a
    jump of the knob never steps the waveform. With ``follow``, the stage keeps the dry input
    in a delay line of the processor's latency, and scales the output by the square root of the
    ratio of one-pole averages (``FOLLOW_SECONDS``) of the dry and the wet power, summed over
    channels (within MATCH_LIMITS): level moves over seconds, transients pass.

    Call :meth:`push_dry` with each input block before the processor runs (it may process in
    place), then :meth:`process` with its output.
    """

    def __init__(self, threshold: float, temperature: float, soft_clip: bool = True, follow: bool = False,
                 ceiling: float = 1.0e4) -> None:
        self._fp = np.array([1.0, 1.0, threshold, temperature, float(ceiling), float(soft_clip), float(follow), 0.0])
        self._state = np.zeros(3)
        self.ceiling = float(ceiling)
        self._line: DelayLine | None = None
        self._delay: tuple[int, int] | None = None

    @property
    def follow(self) -> bool:
        """Whether the loudness follower scales the output (set between streams)."""
        return bool(self._fp[_FOLLOW] > 0.0)

    @follow.setter
    def follow(self, value: bool) -> None:
        if value and self._line is None and self._delay is not None:
            self._line = DelayLine(*self._delay)  # before the flag: a running stream never sees it missing
        self._fp[_FOLLOW] = float(bool(value))

    @property
    def soft_clip(self) -> bool:
        """Whether the gate-blended published soft clip is applied."""
        return bool(self._fp[_CLIP] > 0.0)

    @soft_clip.setter
    def soft_clip(self, value: bool) -> None:
        self._fp[_CLIP] = float(bool(value))

    @property
    def gain(self) -> float:
        return float(self._fp[_GAIN])

    @gain.setter
    def gain(self, value: float) -> None:
        self._fp[_GAIN] = float(value)

    def copy_settings(self, other: OutputStage) -> None:
        """Take ``other``'s gain, soft clip, follow flag and time constants (a stage that serves a
        group of ``other``'s channels; prepared at the same sample rate)."""
        self._fp[:] = other._fp

    def prepare(self, sample_rate: int, max_block: int, channels: int, delay: int, warm: bool = True) -> None:
        """Allocate for blocks of up to ``max_block``; ``delay`` is the processor's latency.
        ``warm`` loads the compiled code for both array layouts a host may hand over now;
        ``warm=False`` (offline only) loads it on first use, for the layout actually used."""
        self._fp[_SMOOTH] = 1.0 - math.exp(-1.0 / (BLEND_SMOOTHING_S * sample_rate))
        self._fp[_DECAY] = math.exp(-1.0 / (FOLLOW_SECONDS * sample_rate))
        self._delay = (int(channels), int(delay))
        # the dry delay line only serves the follower (made when it is switched on)
        self._line = DelayLine(*self._delay) if self.follow else None
        self._dry = np.zeros((channels, max_block), np.float32)
        self._scratch = np.zeros((3, max_block))
        if warm:  # blocks of at most max_block samples: the jitted code indexes without bounds checks
            silence = np.zeros((channels, min(2, max_block)), np.float32)
            n = silence.shape[1]
            for layout in (silence, np.asfortranarray(silence)):
                for controls, stride in ((np.zeros(1), 0), (np.zeros(n), 1)):
                    _output_block(layout, layout, self._dry[:, :n], controls, stride, self._fp, self._state,
                                  self._scratch)
        self.reset()

    def reset(self) -> None:
        self._state[:] = 0.0
        if self._line is not None:
            self._line.reset()

    def push_dry(self, block: np.ndarray) -> None:
        """Feed the processor's input block to the follower's delay line (before processing)."""
        if block.shape[1] > self._dry.shape[1]:
            raise ValueError(f"blocks must have at most {self._dry.shape[1]} samples, got {block.shape[1]}")
        if self.follow:
            self._line.process(block, self._dry[:, :block.shape[1]])

    def process(self, x: np.ndarray, y: np.ndarray, controls: np.ndarray, stride: int) -> np.ndarray:
        """Write the output of ``x`` (channels, n) into ``y`` (may be ``x``); ``controls`` as the engine's."""
        n = x.shape[1]
        if y.shape != x.shape or n > self._dry.shape[1] or x.shape[0] != self._dry.shape[0] or \
                controls.shape[0] < (1 if stride == 0 else (n - 1) * stride + 1):
            raise ValueError(f"output stage of {self._dry.shape[0]} channel(s), blocks up to {self._dry.shape[1]}: "
                             f"got {x.shape} into {y.shape} with {controls.shape[0]} control value(s)")
        _output_block(x, y, self._dry[:, :x.shape[1]], controls, stride, self._fp, self._state, self._scratch)
        return y
