"""A demo event with fictional participants, so a newcomer to an empty database has
something to see: an online Italy–China matchmaking day three weeks from today, moved three
weeks ahead again whenever its registration deadline has passed.

Every person and organisation here is invented; e-mail addresses and websites use the
reserved ``.example`` domain. The participants live on the ``demo`` channel, which no
transport delivers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import Event, EventRegistration, Meeting, Slot
from storage.event_spec import (
    EventSpec,
    PlaceSpec,
    SessionSpec,
    default_registration_deadline,
    local_to_utc,
    utc_to_local,
)
from storage.event_sync import import_event
from storage.models import ConsentRecord, InterestArea, Participant, ParticipantInterest

DEMO_CODE = "itcn-demo"
DEMO_CHANNEL = "demo"
DEMO_CONSENT_VERSION = "demo-seed"
DAYS_AHEAD = 21
LINKS = 6
ZONES = {"IT": "Europe/Rome", "CN": "Asia/Shanghai"}


@dataclass(frozen=True)
class DemoPerson:
    """One fictional participant."""

    name: str
    organisation: str
    org_type: str
    country: str
    city: str
    locale: str
    languages: tuple[str, ...]
    areas: tuple[str, ...]
    profile: str
    offer: str
    seek: str
    domain: str
    email_user: str

    @property
    def interpreter_needed(self) -> bool:
        """Whether the person speaks no language shared by most partners (English)."""
        return "en" not in self.languages


# fmt: off
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "Giulia Ferraro", "Eliodoro Energia S.r.l.", "startup", "IT", "Torino", "it",
        ("it", "en"), ("energy", "materials_nano"),
        "Startup nata nel 2022 da un progetto di ricerca universitario. Sviluppiamo celle "
        "solari in perovskite stampabili, leggere e flessibili, per facciate e serre agricole.",
        "Prototipi di moduli fotovoltaici flessibili, dati di durabilità da due anni di test "
        "in campo e una licenza sul nostro processo di incapsulamento.",
        "Un partner industriale cinese per una linea pilota di produzione roll-to-roll e "
        "fornitori di materiali barriera; ci interessano anche i bandi congiunti Italia–Cina.",
        "eliodoro.example", "giulia.ferraro",
    ),
    DemoPerson(
        "Marco Lombardi", "Università di Monteverde – Laboratorio di IA per la salute",
        "university", "IT", "Bologna", "en", ("it", "en"),
        ("artificial_intelligence", "health_biomedicine"),
        "University research lab of twelve people working on machine learning for medical "
        "imaging and on small, energy-efficient AI models that run on hospital hardware.",
        "Validated models for chest X-ray and CT triage, annotated datasets, PhD and postdoc "
        "exchanges, and co-supervision of joint research projects.",
        "Hospitals and med-tech companies in China to validate our models on new patient "
        "cohorts, and a partner for the next joint Italy–China call on AI and health.",
        "monteverde-univ.example", "marco.lombardi",
    ),
    DemoPerson(
        "Chiara Esposito", "BioMare Lab S.r.l.", "sme", "IT", "Napoli", "it",
        ("it", "en", "fr"), ("biotech_life_sciences", "health_biomedicine"),
        "PMI biotecnologica con 25 dipendenti. Produciamo enzimi e principi attivi ricavati "
        "da microrganismi marini per l'industria cosmetica, nutraceutica e alimentare.",
        "Una collezione di oltre 2.000 ceppi marini caratterizzati, fermentazione su scala "
        "pilota fino a 500 litri e servizi di screening su commissione.",
        "Distributori e partner di ricerca in Cina nel settore cosmetico e dei prodotti per "
        "la salute, per sviluppare insieme nuove formulazioni.",
        "biomarelab.example", "chiara.esposito",
    ),
    DemoPerson(
        "Alessandro Rinaldi", "Fondo Aurora Deep Tech", "investor", "IT", "Milano", "it",
        ("it", "en"), ("energy", "artificial_intelligence", "biotech_life_sciences"),
        "Fondo di venture capital da 80 milioni di euro che investe in startup deep tech "
        "italiane ed europee, dalla fase seed alla serie A.",
        "Investimenti da 0,5 a 3 milioni di euro, accompagnamento nei mercati europei e una "
        "rete di coinvestitori.",
        "Startup cinesi che vogliono aprire una sede in Europa e coinvestitori cinesi per "
        "round congiunti in energia, intelligenza artificiale e scienze della vita.",
        "aurora-deeptech.example", "alessandro.rinaldi",
    ),
    DemoPerson(
        "王晓雯", "杭州云衡智能科技有限公司", "startup", "CN", "杭州", "zh_Hans",
        ("zh", "en"), ("artificial_intelligence", "energy"),
        "成立于2021年的人工智能初创企业，专注于电网负荷预测和新能源发电功率预测，"
        "已为浙江省十余家配电企业提供服务。",
        "成熟的光伏与风电功率预测软件平台，可针对欧洲电网数据进行定制，并可开展联合研发和试点部署。",
        "希望与意大利能源企业或研究机构合作，在欧洲开展试点项目，并寻找熟悉欧盟数据合规要求的合作伙伴。",
        "yunheng-ai.example", "wang.xiaowen",
    ),
    DemoPerson(
        "陈立", "京华储能材料研究院", "research_centre", "CN", "北京", "zh_Hans",
        ("zh", "en"), ("energy", "materials_nano"),
        "Public research institute with 300 staff working on solid-state batteries, "
        "sodium-ion cells and materials for long-duration energy storage.",
        "Pilot lines for solid electrolytes, materials characterisation (XRD, SEM, in-situ "
        "electrochemistry) and visiting positions for European researchers.",
        "Italian universities and companies for joint projects on recycling battery "
        "materials and on perovskite–silicon tandem solar cells.",
        "jinghua-storage.example", "chen.li",
    ),
    DemoPerson(
        "刘佳", "苏州禾康生物医药有限公司", "sme", "CN", "苏州", "zh_Hans",
        ("zh",), ("biotech_life_sciences", "health_biomedicine"),
        "生物医药中小企业，员工约80人，主要从事单克隆抗体和体外诊断试剂的研发与生产。",
        "符合GMP标准的细胞培养与抗体生产平台，以及在中国开展临床注册和市场推广的经验与渠道。",
        "寻找意大利的生物技术公司或大学实验室，在新药靶点、海洋生物活性物质等方向开展技术合作或技术许可。",
        "hekang-bio.example", "liu.jia",
    ),
    DemoPerson(
        "周婷", "合肥清源氢能科技有限公司", "startup", "CN", "合肥", "zh_Hans",
        ("zh", "en"), ("energy", "materials_nano"),
        "专注于碱性和PEM电解水制氢设备的科技初创企业，核心团队拥有十年以上电化学研发经验。",
        "兆瓦级电解槽样机、催化剂涂层技术，以及绿氢示范项目的实际运行数据。",
        "希望结识意大利的工业用户和工程公司，在欧洲合作开展绿氢示范项目，并寻找新材料领域的研究伙伴。",
        "qingyuan-h2.example", "zhou.ting",
    ),
)
# fmt: on


def demo_event_spec(today: date) -> EventSpec:
    """The demo event: two mornings in Rome (afternoons in Beijing), 20-minute online
    meetings in Tencent Meeting rooms, three weeks from ``today``."""
    first = today + timedelta(days=DAYS_AHEAD)
    second = first + timedelta(days=1)
    return EventSpec(
        code=DEMO_CODE,
        names={
            "en": "Italy–China Online Matchmaking Day: Energy, AI and Biotechnology",
            "it": "Giornata di incontri online Italia–Cina: energia, intelligenza artificiale "
            "e biotecnologie",
            "zh_Hans": "中意线上科技对接日：能源、人工智能与生物技术",
        },
        mode="online",
        time_zone="Europe/Rome",
        starts_on=first,
        ends_on=second,
        registration_deadline=default_registration_deadline(first),
        meeting_minutes=20,
        break_minutes=5,
        sessions=(
            SessionSpec(first, time(9, 0), time(12, 0)),
            SessionSpec(second, time(9, 0), time(12, 0)),
        ),
        places=tuple(
            PlaceSpec(
                "link", f"Tencent Meeting {n}", f"https://meeting.tencent.com/dm/ponte-demo-{n}"
            )
            for n in range(1, LINKS + 1)
        ),
    )


async def seed_demo(session: AsyncSession, today: date) -> Event | None:
    """Create the demo event and its eight participants, unless any event exists.

    Returns the new event, or ``None`` when the database already had an event. Demo
    participants left over from an earlier demo are reused, not duplicated. The caller
    commits.
    """
    if await session.scalar(select(Event.id).limit(1)) is not None:
        return None
    moment = datetime.combine(today, time(8, 0), UTC)
    result = await import_event(session, demo_event_spec(today), moment)
    areas = {area.code: area for area in (await session.scalars(select(InterestArea))).all()}
    for number, person in enumerate(DEMO_PEOPLE, start=1):
        participant = await _demo_participant(session, number, person, moment, areas)
        session.add(
            EventRegistration(
                event_id=result.event_id, participant_id=participant.id, joined_at=moment
            )
        )
    await session.flush()
    return await session.get(Event, result.event_id)


async def redate_demo(session: AsyncSession, now: datetime) -> bool:
    """Move the demo event to three weeks from ``now`` once its registration deadline has
    passed; returns whether it moved. The caller commits.

    Days, slots and deadline move by whole days at the same local time in the event's zone
    (so across a change of summer time too). A slot that any meeting refers to, even a
    cancelled one, stays where it is with its meetings: those are real users' meetings and
    their calendars already hold that time; a copy at the new date takes its place in the
    grid. Nothing else changes: registrations, requests, participants, other events.
    """
    event = await session.scalar(
        select(Event)
        .where(Event.code == DEMO_CODE)
        .with_for_update()  # two consoles starting at once move it once
        .execution_options(populate_existing=True)
    )
    if event is None or now < event.registration_deadline or not await _is_demo(session, event):
        return False
    zone = ZoneInfo(event.time_zone)
    days = now.astimezone(UTC).date() + timedelta(days=DAYS_AHEAD) - event.starts_on

    def later(moment: datetime) -> datetime:
        return local_to_utc(utc_to_local(moment, zone) + days, zone, "demo event")

    used = set(
        await session.scalars(
            select(Meeting.slot_id).where(
                Meeting.event_id == event.id, Meeting.slot_id.is_not(None)
            )
        )
    )
    for slot in await session.scalars(select(Slot).where(Slot.event_id == event.id)):
        if utc_to_local(slot.starts_at, zone).date() < event.starts_on:
            continue  # kept at an earlier move for its meetings; no longer in the grid
        starts_at, ends_at = later(slot.starts_at), later(slot.ends_at)
        if slot.id in used:
            session.add(Slot(event_id=event.id, starts_at=starts_at, ends_at=ends_at))
        else:
            slot.starts_at, slot.ends_at = starts_at, ends_at
    event.starts_on, event.ends_on = event.starts_on + days, event.ends_on + days
    event.registration_deadline = later(event.registration_deadline)
    await session.flush()
    return True


async def _is_demo(session: AsyncSession, event: Event) -> bool:
    # An organiser could have imported a real event under the demo's code: leave it alone.
    return (
        await session.scalar(
            select(Participant.id)
            .join(EventRegistration, EventRegistration.participant_id == Participant.id)
            .where(EventRegistration.event_id == event.id, Participant.channel == DEMO_CHANNEL)
            .limit(1)
        )
        is not None
    )


async def _demo_participant(
    session: AsyncSession,
    number: int,
    person: DemoPerson,
    moment: datetime,
    areas: dict[str, InterestArea],
) -> Participant:
    external_id = f"demo-{number}"
    existing = await session.scalar(
        select(Participant).where(
            Participant.channel == DEMO_CHANNEL, Participant.external_id == external_id
        )
    )
    if existing is not None:
        return existing
    participant = Participant(
        channel=DEMO_CHANNEL,
        external_id=external_id,
        chat_id=external_id,
        locale=person.locale,
        time_zone=ZONES[person.country],
        name=person.name,
        organisation=person.organisation,
        org_type=person.org_type,
        country=person.country,
        city=person.city,
        email=f"{person.email_user}@{person.domain}",
        website=f"https://www.{person.domain}",
        profile=person.profile,
        offer=person.offer,
        seek=person.seek,
        languages_spoken=list(person.languages),
        interpreter_needed=person.interpreter_needed,
        active=True,
        registered_at=moment,
        created_at=moment,
        updated_at=moment,
        consents=[
            ConsentRecord(
                purpose="profile_sharing",
                notice_version=DEMO_CONSENT_VERSION,
                locale=person.locale,
                given_at=moment,
            )
        ],
        interests=[ParticipantInterest(area=areas[c]) for c in person.areas if c in areas],
    )
    session.add(participant)
    await session.flush()
    return participant
