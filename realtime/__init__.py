"""realtime: the live host. A sounddevice duplex stream runs :class:`cak_dsp.CakEngine` in its
callback; a MIDI controller moves the texture knob.

* :mod:`realtime.stream`  -- :class:`LiveHost`: prepare, warm, ``gc.freeze()``, run the callback
* :mod:`realtime.mixer`   -- latency-compensated dry/wet mix, output gain, peak meters (jitted)
* :mod:`realtime.midi`    -- python-rtmidi CC -> ``c`` (range, curve, 14-bit, learn, port watchdog)
* :mod:`realtime.devices` -- PortAudio loading, device lookup and checks, one-line :class:`LiveError`
* :mod:`realtime.status`  -- the live status line and the end-of-run summary
* :mod:`realtime.run`     -- ``cak live`` / ``cak devices`` glue

Not yet here (see issue 3): pedalboard chains, Program Change preset switching, MIDI targets
other than ``c``, input channel selection.
"""
