"""realtime: the live host (sounddevice duplex stream, MIDI control, pedalboard chains).

It runs :class:`cak_dsp.CakEngine` inside the audio callback; see issue "realtime".
"""
