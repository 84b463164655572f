"""Matchmaking events for organisers: event files (YAML, CSV), links and QR codes, the demo.

The application reads and writes files here and calls storage with what they describe
(``storage.event_spec`` is the description; ``storage.event_sync`` stores it).
"""
