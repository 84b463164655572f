"""Telegram channel: a framework-neutral bridge plus one thin runtime per framework.

``updates`` and ``render`` speak Telegram's JSON; ``bridge`` applies Telegram's rules and
error policy; ``aiogram_runtime`` and ``ptb_runtime`` are the only modules that import a
framework, and each only moves JSON and maps errors.
"""
