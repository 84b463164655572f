"""The privacy notice names the data controller and the retention period (GDPR art. 13,
PIPL art. 17) from the configuration, and the consent records which notice was shown."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.config import ConfigError, Settings, load_settings
from handlers.core import Core
from handlers.kernel.terms import DEMO_PRIVACY_TERMS, PrivacyTerms
from handlers.participant.consent import PRIVACY_NOTICE_EDITION, notice_version
from storage.models import ConsentRecord, Participant
from tests.chat import Chat
from tests.events_support import Clock
from tests.flows import JOHN, MARIA, WANG, register

PERSON = {"it": MARIA, "en": JOHN, "zh_Hans": WANG}
LANGS = {"it": "it", "en": "en", "zh_Hans": "zh"}
TERMS = PrivacyTerms(
    controller="Città della Scienza S.C.p.A.", contact="privacy@cittadellascienza.example",
    retention_days=730,
)  # fmt: skip
# How each language says who controls the data and how long it is kept.
WORDING = {
    "it": ("Titolare del trattamento: Città della Scienza S.C.p.A.", "fino a 730 giorni"),
    "en": ("Data controller: Città della Scienza S.C.p.A.", "until 730 days after"),
    "zh_Hans": ("个人信息处理者：Città della Scienza S.C.p.A.", "结束后730天"),
}

PINNED_NOTICE_VERSION = "2026-12-v2+03935cca"
"""The demo installation's notice version. When this test fails, the notice's wording
changed in some language: raise PRIVACY_NOTICE_EDITION and pin the new version here."""


async def consents(app: App, user: str) -> list[ConsentRecord]:
    async with app.sessions() as session:
        participant = await session.scalar(
            select(Participant).where(Participant.external_id == user)
        )
        assert participant is not None
        rows = await session.scalars(
            select(ConsentRecord).where(ConsentRecord.participant_id == participant.id)
        )
        return list(rows)


@pytest.mark.parametrize("locale", PERSON)
async def test_the_notice_names_the_controller_and_the_retention(
    app: App, clock: Clock, locale: str
) -> None:
    core = Core(app.sessions, clock=clock, privacy_terms=TERMS)
    await core.load_taxonomy()
    chat = Chat(core, user=f"notice-{locale}", lang=LANGS[locale])
    await register(chat, PERSON[locale])
    controller, retention = WORDING[locale]
    assert controller in chat.all_text and retention in chat.all_text
    assert TERMS.contact in chat.all_text
    assert "/deleteme" in chat.all_text
    recorded = await consents(app, f"notice-{locale}")
    assert [record.notice_version for record in recorded] == [notice_version(TERMS)]
    assert notice_version(TERMS) in chat.all_text  # the version shown is the one recorded


def test_the_recorded_version_changes_with_what_the_notice_says() -> None:
    versions = {
        notice_version(terms)
        for terms in (
            DEMO_PRIVACY_TERMS,
            TERMS,
            PrivacyTerms(TERMS.controller, TERMS.contact, 365),
            PrivacyTerms(TERMS.controller, "dpo@other.example", TERMS.retention_days),
            PrivacyTerms("Another organiser", TERMS.contact, TERMS.retention_days),
        )
    }
    assert len(versions) == 5
    assert all(v.startswith(f"{PRIVACY_NOTICE_EDITION}+") and len(v) <= 32 for v in versions)
    assert notice_version(TERMS) == notice_version(replace(TERMS))  # the same notice, again


def test_the_notice_wording_is_pinned_to_its_edition() -> None:
    assert notice_version(DEMO_PRIVACY_TERMS) == PINNED_NOTICE_VERSION, (
        "the privacy notice changed: raise PRIVACY_NOTICE_EDITION and update the pin"
    )


async def test_the_configuration_reaches_the_notice(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, clock: Clock
) -> None:
    monkeypatch.setenv("PRIVACY_CONTROLLER_NAME", "  CNR – Consiglio Nazionale delle Ricerche ")
    monkeypatch.setenv("PRIVACY_CONTROLLER_CONTACT", "dpo@cnr.example")
    monkeypatch.setenv("PRIVACY_RETENTION_DAYS", "400")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    settings = load_settings()
    assert settings.privacy_terms == PrivacyTerms(
        "CNR – Consiglio Nazionale delle Ricerche", "dpo@cnr.example", 400
    )
    app = await build_app(settings, clock=clock)
    try:
        chat = Chat(app.core, user="configured", lang="en")
        await register(chat, JOHN)
        assert "Data controller: CNR – Consiglio Nazionale delle Ricerche" in chat.all_text
        assert "dpo@cnr.example" in chat.all_text and "400 days" in chat.all_text
    finally:
        await app.close()


def test_the_demo_defaults_are_documented() -> None:
    settings = Settings(_env_file=None)
    assert settings.privacy_terms == DEMO_PRIVACY_TERMS


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PRIVACY_CONTROLLER_NAME", "   ", "PRIVACY_CONTROLLER_NAME"),
        ("PRIVACY_CONTROLLER_CONTACT", "", "PRIVACY_CONTROLLER_CONTACT"),
        ("PRIVACY_RETENTION_DAYS", "0", "PRIVACY_RETENTION_DAYS"),
        ("PRIVACY_RETENTION_DAYS", "a year", "PRIVACY_RETENTION_DAYS"),
    ],
)
def test_bad_privacy_settings_are_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=problem):
        load_settings()
