"""Screens as a native speaker reads them: Chinese punctuation, 北京时间, no nested brackets,
Italian addressing everyone alike, unambiguous lists, and no contradicting messages."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

import pytest
from babel.core import get_global

from bot.app import App
from handlers.kernel.i18n import SUPPORTED_LOCALES, translator
from handlers.kernel.markup import to_plain_text
from handlers.kernel.timefmt import zone_label
from tests.chat import Chat
from tests.events_support import Clock, inbox, said, text_of
from tests.flows import JOHN, MARIA, WANG, register
from tests.test_bad_input import at_name_step
from tests.test_i18n import catalogue
from tests.test_matchmaking import event_id_of, request_and_accept, setup

LANGS = {"it": "it", "en": "en", "zh_Hans": "zh"}
PERSON = {"it": MARIA, "en": JOHN, "zh_Hans": WANG}

CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]"
ASCII_PUNCTUATION_BY_CJK = re.compile(rf"{CJK} ?[,:;!?]|[,:;!?] ?{CJK}")
SPACE_BEFORE_FULL_STOP = re.compile(r"\s[。，：；！？、）]")
# Words that address the reader as a man only (or everyone as men): "sei iscritto", "te
# stesso", "benvenuto", "entrambi"… Italian can say all of it neutrally.
MASCULINE_ONLY = re.compile(
    r"\b(iscritto|iscritti|registrato|registrati|pronto|pronti|interessato|collegato|"
    r"arrivato|invitato|invitati|te stesso|nuovo utente|entrambi|tutti e due)\b"
    r"|\b(sei|siete|sarai) sicur[oi]\b"
    r"|(?<!il )\bbenvenut[oi]\b",  # "Ti diamo il benvenuto" is for everyone
    re.IGNORECASE,
)


def bracket_depth(text: str) -> int:
    """The deepest nesting of round brackets, ASCII or full-width."""
    depth = deepest = 0
    for ch in text:
        if ch in "(（":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")）":
            depth -= 1
    return deepest


def assert_reads_natively(text: str, locale: str) -> None:
    assert bracket_depth(text) <= 1, text
    if locale == "zh_Hans":
        found = ASCII_PUNCTUATION_BY_CJK.findall(text)
        assert not found, (found, text)
        assert not SPACE_BEFORE_FULL_STOP.findall(text), text
    if locale == "it":
        assert not MASCULINE_ONLY.findall(text), (MASCULINE_ONLY.findall(text), text)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_translation_reads_natively(locale: str) -> None:
    for strings in catalogue(locale).values():
        for translated in strings:
            # Placeholders stand for values: check the words around them.
            assert_reads_natively(re.sub(r"\{[a-z_]+\}", "X", translated), locale)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_no_zone_label_carries_brackets_of_its_own(locale: str) -> None:
    t = translator(locale)
    zones = set(get_global("zone_territories")) & available_timezones()
    for name in sorted(zones):
        label = zone_label(name, t)
        assert not set(label) & set("()（）"), (name, label)


@pytest.mark.parametrize(
    ("locale", "label"), [("it", "Ora di Pechino"), ("en", "Beijing Time"), ("zh_Hans", "北京时间")]
)
def test_chinas_time_is_beijing_time(locale: str, label: str) -> None:
    for name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
        assert zone_label(name, translator(locale)) == label
    assert zone_label("Europe/Rome", translator(locale)) in {
        "Ora Italia",
        "Italy Time",
        "意大利时间",
    }


@pytest.mark.parametrize(
    ("locale", "items", "plain", "with_comma"),
    [
        ("it", ["Energia", "Design", "Agrifood"], "Energia, Design e Agrifood",
         "Energia; Produzione intelligente, Industria 4.0 e robotica; Design"),
        ("en", ["Energy", "Design", "Agrifood"], "Energy, Design, and Agrifood",
         "Energy; Smart production, Industry 4.0 and robotics; Design"),
        ("zh_Hans", ["能源", "设计", "农业食品"], "能源、设计和农业食品",
         "能源；智能制造、工业4.0和机器人；设计"),
    ],
)  # fmt: skip
def test_lists_follow_the_language_and_stay_unambiguous(
    locale: str, items: list[str], plain: str, with_comma: str
) -> None:
    t = translator(locale)
    assert t.list(items) == plain
    assert t.list(with_comma.split("；" if locale == "zh_Hans" else "; ")) == with_comma
    assert t.list(items[:1]) == items[0]


async def meeting_screens(app: App, clock: Clock, locale: str) -> str:
    """Everything a participant reading ``locale`` sees around a confirmed meeting."""
    reader = {"it": "maria", "en": "luca", "zh_Hans": "wang"}[locale]
    other = "maria" if locale == "zh_Hans" else "wang"
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, reader, other)
    chat = chats[reader]
    for command in ("/help", "/profile", "/partners", "/agenda", "/events"):
        await chat.say(command)
    seen = [to_plain_text(reply.text) for reply in chat.transcript]
    seen.append(text_of(await inbox(app, reader, clock.now)))
    return "\n\n".join(seen)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_main_screens_read_natively(app: App, clock: Clock, locale: str) -> None:
    text = await meeting_screens(app, clock, locale)
    assert_reads_natively(text, locale)
    if locale == "zh_Hans":
        assert "北京时间" in text and "意大利时间" in text  # own time, and the partner's
        assert "Asia/Shanghai" not in text
    else:
        assert ("Ora di Pechino" if locale == "it" else "Beijing Time") in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_registration_reads_natively_and_never_thanks_alone(
    sqlite_app: App, locale: str
) -> None:
    chat = Chat(sqlite_app.core, user=f"native-{locale}", lang=LANGS[locale])
    await register(chat, PERSON[locale], phone="+393331234567")
    await chat.say("/profile")
    texts = [to_plain_text(reply.text) for reply in chat.transcript]
    assert_reads_natively("\n".join(texts), locale)
    thanks = {"it": "Grazie.", "en": "Thank you.", "zh_Hans": "谢谢。"}[locale]
    assert thanks not in texts
    # The message that takes the contact keyboard away says what was kept.
    keyboard_gone = [to_plain_text(r.text) for r in chat.transcript if r.remove_keyboard]
    assert keyboard_gone == [said(locale, "Phone number saved: {phone}", phone="+393331234567")]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("command", ["/profile", "/partners", "/agenda", "/events"])
async def test_participant_commands_during_registration_say_one_thing(
    sqlite_app: App, locale: str, command: str
) -> None:
    chat = await at_name_step(sqlite_app, f"early-{locale}", LANGS[locale])
    await chat.say("Anna Bianchi")
    await chat.say(command)
    message = "/{name} works once registration is complete. Let's continue where you left off:"
    assert chat.texts[0] == said(locale, message, name=command[1:])
    assert len(chat.texts) == 2  # that one message, then the question the user is on
    assert said(locale, "Step {current} of {total}", current="3", total="16") in chat.texts[1]
    assert said(locale, "Welcome back! Let's continue where you left off.") not in chat.text
    await chat.say("/cancel")  # paused: there is no question to show, so /start is named
    await chat.say(command)
    paused = "/{name} works once registration is complete: send /start to finish it."
    assert chat.texts == [said(locale, paused, name=command[1:])]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_a_note_is_kept_across_an_interruption(app: App, clock: Clock, locale: str) -> None:
    ids, chats = await setup(app, clock)
    event = await event_id_of(app)
    writer, invitee = {
        "it": ("maria", "wang"),
        "en": ("luca", "wang"),
        "zh_Hans": ("wang", "maria"),
    }[locale]
    chat = chats[writer]
    await chat.press_payload(f"rqn|{ids[invitee]}|{event}")
    long_note = "Incontriamoci per parlare di batterie al sodio. " * 8  # over the 300 limit
    await chat.say(long_note)
    kept = said(locale, "Your note, not sent yet: {note}", note=long_note.strip())
    assert kept in chat.text  # refused, but shown back to be shortened
    await chat.say("/agenda")  # something else in between
    await chat.press_payload(f"rqn|{ids[invitee]}|{event}")
    assert kept in chat.text
    await chat.press_payload(f"rqn|{ids['li']}|{event}")
    assert kept not in chat.text  # the note was for someone else
    await chat.press("note|cancel")
    await chat.press_payload(f"rqn|{ids[invitee]}|{event}")
    assert kept in chat.text
    await chat.say(long_note[:120])
    invitation = text_of(await inbox(app, invitee, clock.now))
    assert long_note[:40] in invitation
    await chat.press_payload(f"rqn|{ids['li']}|{event}")
    await chat.press("note|cancel")
    await chat.press_payload(f"rqn|{ids[invitee]}|{event}")
    assert "Your note" not in chat.text and kept not in chat.text  # sent: nothing is kept
