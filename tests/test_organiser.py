"""Organiser tools through the core: rights, /stats, /export, /admins."""

from __future__ import annotations

import asyncio
import csv
import io
import threading

import openpyxl
import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import App
from handlers.kernel.i18n import translator
from handlers.kernel.markup import to_plain_text
from handlers.kernel.notify import payload_to_reply, reply_to_payload
from handlers.kernel.replies import Document, Reply, Response
from handlers.organiser import stats as stats_module
from handlers.organiser.scope import EventScope
from handlers.organiser.stats import chart_data
from handlers.organiser.tables import Table, to_csv, to_xlsx
from storage.organiser_models import Organiser
from storage.statistics import StatisticsRepository
from tests.chat import Chat
from tests.events_support import Clock
from tests.flows import MARIA
from tests.organiser_support import (
    CODE,
    DANGEROUS,
    ORGANISER,
    many_registered,
    organiser_core,
    participants_in_db,
    seed,
)

COMMANDS = [
    "/organiser",
    "/stats",
    f"/stats {CODE}",
    "/export",
    "/export participants xlsx",
    "/export meetings csv",
    "/admins",
    "/admins add 2002",
    f"/admins remove {ORGANISER}",
]
PAYLOADS = [
    "stats|",
    "stats|1",
    "xport|participants|xlsx|",
    "xport|meetings|csv|1",
    "xport|feedback|xlsx|",
    "admins|list",
    f"admins|rm|{ORGANISER}",
    "admins|rm|2002",
]


def texts(response: Response) -> list[str]:
    return [to_plain_text(reply.text) for reply in response.replies]


def documents(response: Response) -> list[Document]:
    return [reply.document for reply in response.replies if reply.document is not None]


# --- rights ---------------------------------------------------------------------------------


async def test_anyone_else_is_answered_as_for_an_unknown_command(app: App, clock: Clock) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER)
    async with app.sessions() as session, session.begin():
        session.add(Organiser(channel="test", external_id="2002", added_by="cli", added_at=clock()))
    stranger = Chat(core, user="3003")
    await stranger.say("/start")  # in registration: the question is asked again, as for /nosuch
    for command in COMMANDS:
        name = command.split()[0]
        unknown = texts(await stranger.say("/nosuchcommand"))
        answer = await stranger.say(command)
        assert texts(answer) == [t.replace("/nosuchcommand", name) for t in unknown], command
        assert not documents(answer)
    stale = await stranger.press_payload("nosuch|payload")
    for payload in PAYLOADS:
        answer = await stranger.press_payload(payload)
        assert texts(answer) == texts(stale), payload
        assert answer.notice == stale.notice
        assert not documents(answer)
    # The same with a user on another channel whose id is an organiser's on this one.
    elsewhere = Chat(core, user=ORGANISER, channel="console")
    assert "/stats" in texts(await elsewhere.say("/stats"))[0]
    async with app.sessions() as session:
        kept = await session.scalars(select(Organiser.external_id))
        assert list(kept) == ["2002"]  # nothing was removed by the forged presses


async def test_registered_participant_is_no_organiser_either(app: App, clock: Clock) -> None:
    core = await organiser_core(app, clock, ORGANISER)
    maria = Chat(core, user="4004", lang=MARIA.lang_hint)
    from tests.flows import register

    await register(maria, MARIA)
    await maria.say("/stats")
    assert maria.texts[0] == to_plain_text(
        translator("it").gettext("I don't know the command /{name}.").format(name="stats")
    )


async def test_organisers_added_in_the_chat_get_the_tools_and_lose_them(
    app: App, clock: Clock
) -> None:
    core = await organiser_core(app, clock, ORGANISER)
    boss, helper = Chat(core, user=ORGANISER), Chat(core, user="2002")
    await helper.say("/stats")
    assert "don't know the command /stats" in helper.text
    await boss.say("/admins add 2002")
    assert "2002 is now an organiser." in boss.text
    await boss.say("/admins add 2002")
    assert "2002 is already an organiser." in boss.text
    await helper.say("/stats")
    assert "Registered participants: 0" in helper.text
    await helper.say(f"/admins remove {ORGANISER}")
    assert "named in ADMIN_IDS" in helper.text
    await boss.say("/admins")
    assert "• 2002" in boss.text and f"• {ORGANISER}" in boss.text
    await boss.press("rm|2002")
    assert "2002 is no longer an organiser." in boss.text
    await helper.say("/stats")
    assert "don't know the command /stats" in helper.text
    await helper.press_payload("admins|rm|1001")  # an old button, after losing the right
    assert "no longer works" in helper.text


@pytest.mark.parametrize("typed", ["abc", "12a", "-5", "0", "", "１２３"])
async def test_a_user_id_must_be_a_number(app: App, clock: Clock, typed: str) -> None:
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    await boss.say(f"/admins add {typed}")
    assert "is not a user id. A user id is a number" in boss.text
    async with app.sessions() as session:
        assert await session.scalar(select(Organiser.id)) is None


# --- statistics -----------------------------------------------------------------------------


async def test_stats_of_a_seeded_event(app: App, clock: Clock) -> None:
    await seed(app)
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    response = await boss.say(f"/stats {CODE}")
    text = texts(response)[0]
    for line in [
        "Registered participants: 5",
        "• Italy: 2", "• China: 2", "• Ireland: 1",
        "• Startup: 5",
        "• Italian: 2", "• Chinese (Simplified): 2", "• English: 1",
        "• Energy: 3", "• Artificial intelligence: 2", "• Health and biomedicine: 1",
        "Requested: 4", "Accepted: 2 (50% of requests)", "Held: 1", "Missed: 1",
        "No-show rate: 50% (of meetings with feedback)",
    ]:  # fmt: skip
        assert line in text.splitlines(), line
    assert "France" not in text and "By event" not in text  # the outsider is not at the event
    assert "reminder" not in text  # no attendance data exists yet
    (chart,) = documents(response)
    assert chart.photo and chart.mime_type == "image/png" and chart.filename.endswith(".png")
    image = Image.open(io.BytesIO(chart.content))
    assert image.format == "PNG" and image.size == (900, 1100)

    everyone = texts(await boss.say("/stats"))[0]
    assert "Registered participants: 6" in everyone and "• France: 1" in everyone
    assert "• Italy–China Matchmaking Day (itcn-2026): 5" in everyone


async def test_stats_numbers_in_the_readers_locale(app: App, clock: Clock) -> None:
    await many_registered(app, 1234)
    core = await organiser_core(app, clock, ORGANISER)
    for lang, line in [
        ("it", "Registrazioni: 1.234"),
        ("en", "Registered participants: 1,234"),
        ("zh-hans", "注册参与者：1,234"),
    ]:
        boss = Chat(core, user=ORGANISER, lang=lang)
        await boss.say("/language")
        await boss.press({"it": "it", "en": "en", "zh-hans": "zh_Hans"}[lang])
        await boss.say("/stats")
        assert line in boss.texts[0].splitlines(), boss.texts[0]


async def test_unknown_event_code_is_explained(app: App, clock: Clock) -> None:
    await seed(app)
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    for command in ("/stats nope", "/export participants nope", "/export meetings csv nope"):
        response = await boss.say(command)
        assert texts(response) == [
            "There is no event with the code “nope”. /stats without a code lists the events "
            "with their codes."
        ]
    await boss.press_payload("stats|999999")
    assert boss.text == "That event no longer exists."


async def test_the_chart_speaks_the_readers_language_or_english_without_a_font(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed(app)
    async with app.sessions() as session:
        stats = await StatisticsRepository(session).statistics(seeded.event_id)
    scope = EventScope(seeded.event_id, CODE, {"en": "Day", "zh_Hans": "中意对接日"})
    zh = translator("zh_Hans")
    monkeypatch.setattr(stats_module, "cjk_font", lambda: "Noto Sans CJK SC")
    labelled = chart_data(stats, scope, zh, "Asia/Shanghai", clock())
    assert labelled.title == "中意对接日 (itcn-2026)"
    assert ("中国", 2) in labelled.countries and ("能源", 3) in labelled.areas
    monkeypatch.setattr(stats_module, "cjk_font", lambda: None)
    fallback = chart_data(stats, scope, zh, "Asia/Shanghai", clock())
    assert fallback.title == "Day (itcn-2026)" and ("China", 2) in fallback.countries
    italian = chart_data(stats, scope, translator("it"), "Europe/Rome", clock())
    assert ("Energia", 3) in italian.areas  # no font problem: Italian is labelled in Italian
    assert [count for _day, count in italian.timeline] == [0, 5]


# --- exports --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(1)", "\tx", "\rx"])
def test_formula_like_cells_are_neutralised(text: str) -> None:
    table = Table("T", ("a",), [(text,), ("plain " + text,)])
    rows = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"), newline="")))
    assert rows[1:] == [["'" + text], ["plain " + text]]
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx([table]))).active
    assert sheet is not None
    dangerous, plain = sheet["A2"], sheet["A3"]
    assert dangerous.data_type == "s" and dangerous.quotePrefix
    # XML turns a carriage return into a line feed; Ponte never stores one (validation).
    assert dangerous.value == text.replace("\r", "\n")
    assert plain.value == ("plain " + text).replace("\r", "\n") and not plain.quotePrefix


async def test_participants_export_matches_the_database(app: App, clock: Clock) -> None:
    seeded = await seed(app)
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    people = await participants_in_db(app, seeded.event_id)
    (csv_file,) = documents(await boss.say(f"/export participants csv {CODE}"))
    assert csv_file.filename == f"ponte-participants-{CODE}-20261201.csv"
    assert csv_file.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["ID", "Name", "Organisation", "Type"]
    assert [int(row[0]) for row in body] == [p.id for p in people]
    column = {name: header.index(label) for name, label in [
        ("name", "Name"), ("organisation", "Organisation"), ("city", "City"),
        ("email", "E-mail"), ("profile", "Profile"), ("offer", "Offers"), ("seek", "Seeks"),
    ]}  # fmt: skip
    for person, row in zip(people, body, strict=True):
        for attribute, index in column.items():
            value = getattr(person, attribute)
            if person.id == seeded.ids["john"] and attribute in DANGEROUS:
                assert row[index] == "'" + value  # neutralised for spreadsheets
            else:
                assert row[index] == value
    assert "王小明" in csv_file.content.decode("utf-8-sig")
    assert "Città di Castello" in csv_file.content.decode("utf-8-sig")

    (xlsx_file,) = documents(await boss.say(f"/export participants xlsx {CODE}"))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    assert sheet is not None
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]][:4] == ["ID", "Name", "Organisation", "Type"]
    for person, row in zip(people, cells[1:], strict=True):
        assert row[0].value == person.id
        for attribute, index in column.items():
            cell = row[index]
            assert cell.value == getattr(person, attribute)  # intact, zh and it included
            assert cell.data_type == "s"  # text, never a formula
            assert cell.quotePrefix == (person.id == seeded.ids["john"] and attribute in DANGEROUS)


async def test_meetings_and_feedback_exports(app: App, clock: Clock) -> None:
    seeded = await seed(app)
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    (xlsx_file,) = documents(await boss.say("/export meetings"))
    assert xlsx_file.filename == "ponte-meetings-20261201.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows[0]
    held = header.index("Held")
    by_first = {row[header.index("Requested by")]: row for row in rows[1:]}
    assert set(by_first) == {"Anna D'Amico", "Marco Rossi"}
    anna, marco = by_first["Anna D'Amico"], by_first["Marco Rossi"]
    assert anna[header.index("Invited")] == "王小明"
    assert anna[header.index("Status")] == "Scheduled" and anna[held] == "yes"
    assert marco[header.index("Status")] == "Waiting for a free slot" and marco[held] == "no"
    assert marco[header.index("Took place, says the second")] is None

    (feedback,) = documents(await boss.say(f"/export feedback csv {CODE}"))
    lines = list(csv.DictReader(io.StringIO(feedback.content.decode("utf-8-sig"))))
    assert sorted((r["Participant"], r["Took place"]) for r in lines) == [
        ("Anna D'Amico", "yes"), ("Marco Rossi", "no"), ("王小明", "yes"),
    ]  # fmt: skip
    assert seeded.ids  # the seed made them


async def test_export_buttons_and_bad_kinds(app: App, clock: Clock) -> None:
    await seed(app)
    boss = Chat(await organiser_core(app, clock, ORGANISER), user=ORGANISER)
    await boss.say("/organiser")
    response = await boss.press("xport|participants|csv|")
    (document,) = documents(response)
    assert document.mime_type == "text/csv"
    await boss.say("/export")
    (document,) = documents(await boss.press("xport|meetings|xlsx|"))
    assert document.filename.endswith(".xlsx")
    for command in (
        "/export people",
        "/export participants pdf extra",
        "/export meetings csv xlsx",
    ):
        response = await boss.say(command)
        assert not documents(response)
        assert "I cannot export" in texts(response)[0]
        assert "/export participants" in texts(response)[0]
    response = await boss.press_payload("xport|passwords|csv|")
    assert not documents(response) and "Use /export participants" in texts(response)[0]


async def test_the_chart_is_drawn_after_the_commit(
    sqlite_app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing waits for nothing in the database: another user is answered meanwhile (on
    SQLite, whose transactions run one at a time, they would wait for the drawing)."""
    await seed(sqlite_app)
    core = await organiser_core(sqlite_app, clock, ORGANISER)
    drawing, finish = threading.Event(), threading.Event()

    def slow_render(_data: object) -> bytes:
        drawing.set()
        finish.wait(timeout=30)
        return b"\x89PNG\r\n\x1a\n"

    monkeypatch.setattr(stats_module, "render_png", slow_render)
    boss, other = Chat(core, user=ORGANISER), Chat(core, user="5005")
    stats = asyncio.create_task(boss.say("/stats"))
    await asyncio.to_thread(drawing.wait, 30)
    await asyncio.wait_for(other.say("/help"), timeout=20)  # answered while the chart draws
    assert not stats.done()
    finish.set()
    response = await stats
    assert [d.content for d in documents(response)] == [b"\x89PNG\r\n\x1a\n"]


def test_a_photo_keeps_its_kind_through_the_outbox() -> None:
    chart = Document("chart.png", b"\x89PNG\r\n\x1a\n", "image/png", photo=True)
    for document in (chart, Document("data.json", b"{}", "application/json")):
        stored = payload_to_reply(reply_to_payload(Reply("x", document=document)))
        assert stored.document == document
