"""realtime: the live host. A sounddevice duplex stream runs CAK (or a chain around it) in its
callback; a MIDI controller moves the knobs and switches presets.

* :mod:`realtime.stream`    -- :class:`LiveHost`: prepare, warm, ``gc.freeze()``, run the callback
* :mod:`realtime.programs`  -- Program Change: engines aligned to one latency, warmed, crossfaded
* :mod:`realtime.mixer`     -- latency-compensated dry/wet mix, output gain, bypass fade, meters (jitted)
* :mod:`realtime.midi`      -- MIDI -> texture, mix, gain, bypass, program (range, curve, 14-bit, learn)
* :mod:`realtime.midi_port` -- the rtmidi port in a helper process (re-opened when it returns)
* :mod:`realtime.midimap`   -- the JSON mapping file
* :mod:`realtime.devices`   -- PortAudio loading, device lookup and checks, one-line :class:`LiveError`
* :mod:`realtime.status`    -- the live status line and the end-of-run summary
* :mod:`realtime.run`       -- ``cak live`` / ``cak devices`` glue
"""
