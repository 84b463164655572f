"""Ponte's conversation core: channel-neutral flows that turn incoming messages into replies.

Nothing in this package imports a chat framework; channels live in ``bot.channels``.
"""
