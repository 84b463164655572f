"""Who answers for the data Ponte keeps, and for how long: the privacy notice's facts.

They come from the installation's configuration (``PRIVACY_CONTROLLER_NAME``,
``PRIVACY_CONTROLLER_CONTACT``, ``PRIVACY_RETENTION_DAYS``); the core only shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PrivacyTerms:
    """The data controller named in the privacy notice, and the retention period it states.

    GDPR art. 13(1)(a) and 13(2)(a), and PIPL art. 17, ask for both before consent is given.
    """

    controller: str
    """The organisation responsible for the data (the organiser), as users should read it."""
    contact: str
    """How to reach it about the data: an e-mail address, a web page or a postal address."""
    retention_days: int
    """Days the data is kept after the last event the participant joined has ended."""


DEMO_PRIVACY_TERMS = PrivacyTerms(
    controller="Ponte demo organiser", contact="privacy@ponte.example", retention_days=365
)
"""What a demo or development installation states; a real one configures its own."""
