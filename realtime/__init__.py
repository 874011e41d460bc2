"""cak_realtime (the folder realtime/): the live host. A sounddevice duplex stream runs CAK (or a
chain around it) in its callback; a MIDI controller moves the knobs and switches presets.

* :mod:`cak_realtime.stream`    -- :class:`LiveHost`: prepare, warm, ``gc.freeze()``, run the callback
* :mod:`cak_realtime.programs`  -- Program Change: engines aligned to one latency, warmed, crossfaded
* :mod:`cak_realtime.mixer`     -- latency-compensated dry/wet mix, output gain, bypass fade, meters (jitted)
* :mod:`cak_realtime.bypass_chain` -- a chain whose stages can each be bypassed live, latency unchanged
* :mod:`cak_realtime.midi`      -- MIDI -> texture, mix, gain, bypass, program (range, curve, 14-bit, learn)
* :mod:`cak_realtime.midi_port` -- the rtmidi port in a helper process (re-opened when it returns)
* :mod:`cak_realtime.midimap`   -- the JSON mapping file
* :mod:`cak_realtime.devices`   -- PortAudio loading, device lookup and checks, one-line :class:`LiveError`
* :mod:`cak_realtime.status`    -- the live status line and the end-of-run summary
* :mod:`cak_realtime.run`       -- :func:`run_live` from a :class:`LiveConfig` and :class:`MidiSettings`; the device list
* :mod:`cak_realtime.studio`    -- ``cak studio``: a web page over the host (file player, exports, MIDI learn)
"""
