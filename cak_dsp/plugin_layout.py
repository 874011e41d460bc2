"""Channel layouts: how a plugin that takes 1 or 2 channels runs in a chain of another width.

pedalboard runs a plugin with as many outputs as inputs and refuses audio of a width the
plugin's main bus does not take (a mono plugin refuses stereo, a stereo plugin mono). A chain
stage's ``layout`` says how to bridge that (chain files: the ``"layout"`` field):

``auto`` (default)
    ``direct`` when the plugin takes the chain's channel count; else ``per-channel`` when it
    takes mono; else ``average`` when the chain is mono and the plugin takes stereo; else a
    one-line error naming the counts the plugin takes.
``direct``
    The plugin as it is; a one-line error if it does not take the chain's channel count.
``per-channel``
    One instance of the plugin per chain channel, each fed and answering one channel; the
    instances share parameters and state (the extra ones are loaded from the same file and
    given the first one's state when the stage is prepared). A stereo chain through a mono
    reverb is then two identical mono reverbs, not a stereo reverb.
``average``
    Mono chain, stereo plugin: the mono signal goes to both inputs and the two outputs are
    averaged (``(L + R) / 2``), so a pass-through stereo plugin passes mono through unchanged.
``left``
    Mono chain, stereo plugin: the mono signal goes to both inputs and the left output is kept
    (for plugins whose right output is not a mono-compatible half, e.g. a ping-pong delay).

Other widths (a stereo plugin in a 4-channel chain) are refused in one line.
Adapters allocate their channel copies per block, as pedalboard allocates its result anyway.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

LAYOUTS = ("auto", "direct", "per-channel", "average", "left")


class LayoutError(ValueError):
    """A plugin whose channel layout does not fit the chain (one line)."""


def choose_layout(layout: str, accepted: tuple[int, ...], channels: int, name: str) -> str:
    """The layout a stage runs with: ``direct``, ``per-channel``, ``average`` or ``left``.

    ``accepted`` are the channel counts the plugin takes (see
    :func:`cak_dsp.plugin_probe.accepted_channels`); ``channels`` is the chain's.
    """
    if layout not in LAYOUTS:
        raise LayoutError(f"{name}: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    takes = _counts(accepted)
    if not accepted:
        raise LayoutError(f"{name} has no audio input and output cak can run (it takes none of 1, 2, 4, 6, 8 "
                          "channels; an instrument or a plugin without audio outputs cannot be a chain stage)")
    if layout == "auto":
        if channels in accepted:
            return "direct"
        if 1 in accepted:
            return "per-channel"
        if channels == 1 and 2 in accepted:
            return "average"
        raise LayoutError(f"{name} takes {takes}; the chain has {channels} channel(s) and no layout bridges "
                          "them (layouts: per-channel for a mono plugin, average or left for a stereo plugin in "
                          "a mono chain)")
    if layout == "direct" and channels not in accepted:
        raise LayoutError(f"{name} takes {takes}, not the chain's {channels}; layout 'direct' cannot run it "
                          "(try 'auto')")
    if layout == "per-channel" and 1 not in accepted:
        raise LayoutError(f"{name} takes {takes}; layout 'per-channel' needs a plugin that takes mono")
    if layout in ("average", "left") and (channels != 1 or 2 not in accepted):
        raise LayoutError(f"{name} takes {takes}; layout {layout!r} is for a stereo plugin in a mono chain "
                          f"(this chain has {channels} channel(s))")
    return layout


def _counts(accepted: tuple[int, ...]) -> str:
    names = {1: "mono (1 channel)", 2: "stereo (2 channels)"}
    return " or ".join(names.get(n, f"{n} channels") for n in accepted) or "no channel count"


class PerChannel:
    """One mono plugin instance per channel, behind pedalboard's ``process``/``reset``."""

    def __init__(self, instances: list) -> None:
        self.instances = instances

    def process(self, block: np.ndarray, sample_rate: float, buffer_size: int, reset: bool) -> np.ndarray:
        outs = [inst.process(block[c:c + 1], sample_rate, buffer_size=buffer_size, reset=reset)
                for c, inst in enumerate(self.instances)]
        n = outs[0].shape[1]
        if any(out.shape[1] != n for out in outs):
            raise LayoutError("the per-channel instances of one plugin returned different numbers of samples")
        return np.concatenate(outs, axis=0)

    def reset(self) -> None:
        for inst in self.instances:
            inst.reset()


class MonoToStereo:
    """A stereo plugin fed a mono signal on both inputs; ``average`` or ``left`` of its outputs."""

    def __init__(self, plugin, layout: str) -> None:
        self.instances = [plugin]
        self.layout = layout

    def process(self, block: np.ndarray, sample_rate: float, buffer_size: int, reset: bool) -> np.ndarray:
        out = self.instances[0].process(np.concatenate([block, block], axis=0), sample_rate,
                                        buffer_size=buffer_size, reset=reset)
        if self.layout == "left":
            return out[:1]
        return 0.5 * (out[:1] + out[1:2])

    def reset(self) -> None:
        self.instances[0].reset()


def adapt(plugin, layout: str, channels: int, clone: Callable[[], object] | None,
          name: str = "plugin") -> tuple[object, list]:
    """What the stage runs for ``layout`` (the plugin, or an adapter around instances of it) and
    the instances; ``clone()`` makes one more instance with the plugin's state (``per-channel``
    needs ``channels - 1`` of them, made afresh at every prepare so that they match the plugin)."""
    if layout == "direct":
        return plugin, [plugin]
    if layout in ("average", "left"):
        return MonoToStereo(plugin, layout), [plugin]
    if channels > 1 and clone is None:
        raise LayoutError(f"{name} is mono: in a {channels}-channel chain it needs one instance per channel; "
                          "load it with cak_dsp.ExternalStage(path), which can load more")
    instances = [plugin] + [clone() for _ in range(channels - 1)]
    return PerChannel(instances), instances
