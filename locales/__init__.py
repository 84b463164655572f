"""Babel gettext catalogues (``<locale>/LC_MESSAGES/messages.po``) and their template."""
