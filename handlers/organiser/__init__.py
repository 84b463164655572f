"""Organiser tools: who is an organiser, statistics, exports, managing organisers.

Every command and button here first checks that the acting user is an organiser
(:mod:`handlers.organiser.rights`); anyone else is answered exactly as for a command or
button Ponte does not have. A new tool (broadcasts) is one more module with a ``setup()``
wrapped the same way, a line in ``handlers.flows.default_routers`` and, if it belongs on
the organiser panel, a button in :data:`handlers.organiser.rights.PANEL`.
"""
