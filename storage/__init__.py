"""Persistence for Ponte: SQLAlchemy 2.0 async models, repositories and Alembic migrations.

This is the ground floor of the project: nothing here imports ``handlers`` or ``bot``.
"""
