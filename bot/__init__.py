"""Ponte's application layer: configuration, channels, command line."""
