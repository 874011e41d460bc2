"""The last stage of the callback: latency-compensated dry/wet mix, output gain, bypass, ceiling, meters.

The dry signal is delayed by exactly the processor's latency, so ``mix`` blends two aligned
signals and never combs. Mix and gain glide from their last value to the new target over one
block (a linear ramp), so a MIDI fader does not click. Bypass fades, over ``bypass_ms``
(default 20 ms, linear), to the same delay-compensated dry signal at unity gain: the output
never jumps and the latency does not change when the effect is switched out or back in.
Everything runs in one jitted pass over the block with preallocated state, so the audio
callback allocates nothing here.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from cak_dsp.delay import DelayLine, delay_block

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

GAIN_RANGE_DB = (-120.0, 40.0)  # the output gain, from the command line, a mapping or a MIDI knob

# slots of the float64 ``gains`` array: current (last applied) and target values, bypass ramp step
MIX, GAIN, MIX_TARGET, GAIN_TARGET, BYPASS, BYPASS_TARGET, BYPASS_STEP = range(7)


@njit(**_JIT)
def _mix_block(dry, ring, position, delay, delayed, wet, gains, in_peak, out_peak, ceiling):
    """Mix ``wet`` (channels, n), in place, with ``dry`` delayed by ``delay`` samples (through
    the delay line's ``ring`` and ``position`` into the scratch ``delayed``), in one call.

    Peaks are running maxima of ``dry`` and the output; the reader resets them.
    """
    channels, n = wet.shape
    if delay:
        delay_block(dry, delayed, ring, position)
    else:
        delayed[:, :] = dry
    mix0, gain0, bypass0 = gains[MIX], gains[GAIN], gains[BYPASS]
    dmix = (gains[MIX_TARGET] - mix0) / n
    dgain = (gains[GAIN_TARGET] - gain0) / n
    bypass_target, step = gains[BYPASS_TARGET], gains[BYPASS_STEP]
    bypass = bypass0
    for ch in range(channels):
        bypass = bypass0
        ip, op = in_peak[ch], out_peak[ch]
        for i in range(n):
            ip = max(ip, abs(dry[ch, i]))
            d = delayed[ch, i]
            bypass = min(bypass + step, bypass_target) if bypass < bypass_target else max(bypass - step, bypass_target)
            m = mix0 + dmix * (i + 1)
            y = (m * wet[ch, i] + (1.0 - m) * d) * (gain0 + dgain * (i + 1))
            y = (1.0 - bypass) * y + bypass * d
            if not math.isfinite(y):
                y = 0.0
            y = min(max(y, -ceiling), ceiling)
            wet[ch, i] = y
            op = max(op, abs(y))
        in_peak[ch], out_peak[ch] = ip, op
    gains[MIX] = gains[MIX_TARGET]
    gains[GAIN] = gains[GAIN_TARGET]
    gains[BYPASS] = bypass


class DryWetMixer:
    """Delay-compensated dry/wet mix, output gain and bypass for ``channels`` channels.

    ``mixer.process(dry, wet)`` overwrites ``wet`` with
    ``(1 - b) * gain * (mix * wet + (1 - mix) * d) + b * d``, where ``d`` is ``dry`` delayed by
    ``delay`` samples and ``b`` ramps between 0 and 1 as bypass is switched, then clamps it to
    +/-``ceiling`` (1.0 = 0 dBFS; NaN or infinity becomes silence). ``mix``, ``gain``
    and ``bypass`` may be set from any thread (one float64 slot each, no lock).
    """

    def __init__(self, channels: int, delay: int, mix: float = 1.0, gain: float = 1.0,
                 bypass_samples: int = 960, ceiling: float = 1.0, max_block: int = 8192) -> None:
        self.delay_samples = int(delay)
        self._line = DelayLine(channels, self.delay_samples)
        self._delayed = np.zeros((channels, max_block), np.float32)
        self._gains = np.array([mix, gain, mix, gain, 0.0, 0.0, 1.0 / max(int(bypass_samples), 1)], np.float64)
        self.ceiling = float(ceiling)
        self.in_peak = np.zeros(channels, np.float32)
        self.out_peak = np.zeros(channels, np.float32)
        warm = np.zeros((channels, 2), np.float32)
        strided = np.zeros((channels, 4), np.float32)[:, ::2]  # a selection of device inputs
        # the scratch is a slice of ``_delayed``: contiguous when a block fills it (or for one channel)
        line = self._line
        for delayed in (np.zeros((channels, 2), np.float32), np.zeros((channels, 4), np.float32)[:, :2]):
            for dry in (warm, np.asfortranarray(warm), strided):
                for wet in (warm, np.asfortranarray(warm)):
                    _mix_block(dry, line.ring, line.position, line.samples, delayed, wet.copy(order="K"),
                               self._gains, self.in_peak, self.out_peak, self.ceiling)
        self.reset()

    @property
    def mix(self) -> float:
        """Target wet share, 0 (dry only) .. 1 (wet only)."""
        return float(self._gains[MIX_TARGET])

    @mix.setter
    def mix(self, value: float) -> None:
        """Clamped to 0..1; NaN is ignored (a live control never stops the stream)."""
        value = float(value)
        if not math.isnan(value):
            self._gains[MIX_TARGET] = min(max(value, 0.0), 1.0)

    @property
    def gain(self) -> float:
        """Target linear output gain."""
        return float(self._gains[GAIN_TARGET])

    @gain.setter
    def gain(self, value: float) -> None:
        """Clamped to 0 .. the top of GAIN_RANGE_DB; NaN is ignored."""
        value = float(value)
        if not math.isnan(value):
            self._gains[GAIN_TARGET] = min(max(value, 0.0), 10.0 ** (GAIN_RANGE_DB[1] / 20.0))

    @property
    def bypass(self) -> bool:
        """Whether bypass is switched on (the output is fading or has faded to the dry signal)."""
        return bool(self._gains[BYPASS_TARGET] > 0.5)

    @bypass.setter
    def bypass(self, value: bool) -> None:
        self._gains[BYPASS_TARGET] = 1.0 if value else 0.0

    @property
    def bypass_amount(self) -> float:
        """Where the bypass ramp is now: 0 = effect, 1 = dry."""
        return float(self._gains[BYPASS])

    def process(self, dry: np.ndarray, wet: np.ndarray) -> None:
        """Overwrite ``wet`` (channels, n) with the mixed, gained output. Allocates nothing."""
        if wet.shape != dry.shape:
            raise ValueError(f"mixer: wet {wet.shape} and dry {dry.shape} must have the same shape")
        line = self._line
        _mix_block(dry, line.ring, line.position, line.samples, self._delayed[:, :dry.shape[1]], wet, self._gains,
                   self.in_peak, self.out_peak, self.ceiling)

    def reset(self) -> None:
        """Silence the dry delay line and the meters; jump mix, gain and bypass to their targets."""
        self._line.reset()
        g = self._gains
        g[MIX], g[GAIN], g[BYPASS] = g[MIX_TARGET], g[GAIN_TARGET], g[BYPASS_TARGET]
        self.in_peak.fill(0)
        self.out_peak.fill(0)
