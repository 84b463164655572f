"""Persistence for Ponte: SQLAlchemy 2.0 async models, repositories and Alembic migrations.

This is the ground floor of the project: nothing here imports ``handlers`` or ``bot``.
"""

# Every table must be known to ``Base.metadata`` whichever module is imported first.
from storage import broadcast_models as _broadcast_models  # noqa: F401
from storage import event_models as _event_models  # noqa: F401
from storage import organiser_models as _organiser_models  # noqa: F401
from storage import reminder_models as _reminder_models  # noqa: F401
