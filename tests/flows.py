"""Scripted conversations reused by several tests."""

from __future__ import annotations

from dataclasses import dataclass

from tests.chat import Chat


@dataclass(frozen=True)
class Person:
    """Answers a participant gives at registration."""

    locale: str
    lang_hint: str
    name: str
    organisation: str
    org_type: str
    country: str  # a button value (IT/CN) or a typed country name
    city: str
    email: str
    website: str
    profile: str
    offer: str
    seek: str
    spoken: tuple[str, ...]
    areas: tuple[str, ...]


MARIA = Person(
    locale="it",
    lang_hint="it-IT",
    name="Maria D'Amico",
    organisation="Energia Futura S.r.l.",
    org_type="startup",
    country="IT",
    city="Napoli",
    email="maria@energiafutura.it",
    website="energiafutura.it",
    profile="Sviluppiamo batterie al sodio per l'accumulo stazionario di energia rinnovabile.",
    offer="Tecnologia di accumulo e prototipi",
    seek="Partner industriali in Cina",
    spoken=("it", "en"),
    areas=("energy", "materials_nano"),
)
JOHN = Person(
    locale="en",
    lang_hint="en-GB",
    name="John O'Neill",
    organisation="<b>Acme & Co</b>",
    org_type="research_centre",
    country="Ireland",
    city="Dublin",
    email="john@acme.example",
    website="https://acme.example/about",
    profile="We run a lab for medical imaging with artificial intelligence and look for partners.",
    offer="Imaging datasets and AI models",
    seek="Hospitals and universities in China",
    spoken=("en",),
    areas=("artificial_intelligence", "health_biomedicine"),
)
WANG = Person(
    locale="zh_Hans",
    lang_hint="zh-hans",
    name="王小明",
    organisation="北京智能科技有限公司",
    org_type="sme",
    country="CN",
    city="北京",
    email="wang@zhineng.cn",
    website="www.zhineng.cn",
    profile="我们是一家专注于储能电池和人工智能的公司，希望与意大利伙伴开展合作。",
    offer="储能技术与产品",
    seek="意大利的科研合作伙伴",
    spoken=("zh", "en"),
    areas=("energy", "artificial_intelligence", "biotech_life_sciences"),
)
PEOPLE = {p.locale: p for p in (MARIA, JOHN, WANG)}


async def register(chat: Chat, person: Person, *, phone: str | None = None) -> None:
    """Walk through the whole registration with ``person``'s answers."""
    await chat.say("/start")
    await chat.press(person.locale)
    await chat.say(person.name)
    await chat.say(person.organisation)
    await chat.press(person.org_type)
    if person.country in {"IT", "CN"}:
        await chat.press(person.country)
    else:
        await chat.say(person.country)
    await chat.say(person.city)
    await chat.say(person.email)
    if phone:
        await chat.share_contact(phone)
    else:
        await chat.press("^skip")
    await chat.say(person.website)
    await chat.say(person.profile)
    await chat.say(person.offer)
    await chat.say(person.seek)
    for code in person.spoken:
        await chat.press(code)
    await chat.press("^done")
    await chat.press("no")
    for code in person.areas:
        await chat.press(code)
    await chat.press("^done")
    await chat.press("agree")
