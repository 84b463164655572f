"""Organiser commands on the command line: ``ponte stats``, ``ponte export``, ``ponte admins``."""
