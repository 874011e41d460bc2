"""cak studio: a local web page over the live host and the offline renderer (``cak studio``).

* :mod:`.player`   -- the file player the host's callback reads, the take's knob record, the tap
* :mod:`.session`  -- :class:`Studio`: settings, the host, the file, MIDI learn, exports
* :mod:`.spectrum` -- the scrolling spectrogram's columns
* :mod:`.server`   -- the aiohttp server: token, Origin and Host checks, uploads, the WebSocket
* ``static/``      -- the page (plain HTML, JS and CSS; package data)

The audio, MIDI and files stay on the server side, in the same host ``cak live`` runs; the
browser only shows and sends controls. aiohttp is the optional extra ``studio``.
"""
