"""``python -m bot`` is the same program as ``ponte``."""

from bot.cli import main

raise SystemExit(main())
