"""The participant: registration, profile, language, consent, and their data (privacy)."""
