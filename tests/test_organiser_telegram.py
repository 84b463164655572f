"""Organiser tools on Telegram (aiogram and python-telegram-bot, against the fake Bot API):
rights against forged commands and payloads, the chart as a photo, exports as documents."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

from handlers.kernel.i18n import translator
from handlers.kernel.menu import COMMANDS as COMMAND_MENU
from handlers.organiser.rights import ORGANISER_COMMANDS
from tests.fake_bot_api import SimulatedUser
from tests.organiser_support import CODE, seed
from tests.telegram_world import FRAMEWORKS, World, running_bot

pytestmark = pytest.mark.parametrize("framework", FRAMEWORKS)
BOSS, STRANGER = 5001, 7007
COMMANDS = [
    "/organiser", "/stats", f"/stats {CODE}", "/export participants", "/export meetings csv",
    "/export", "/admins", "/admins add 7007", f"/admins remove {BOSS}",
]  # fmt: skip
PAYLOADS = [
    "stats|", "stats|1", "xport|participants|xlsx|", "xport|meetings|csv|1",
    "admins|list", "admins|rm|7007", f"admins|rm|{BOSS}",
]  # fmt: skip


@pytest.fixture
async def world(framework: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}"
    async with running_bot(framework, url, admin_ids=(BOSS,)) as running:
        await seed(running.app)
        yield running


async def replies(user: SimulatedUser, action: Callable[[], object], count: int) -> list[str]:
    """What the bot shows after ``action``: the visible text of its next ``count`` messages."""
    action()
    return [m.visible_text for m in await user.wait_for_reply(count, timeout=20)]


def files_sent_to(world: World, chat_id: int) -> list[str]:
    return [
        c.method
        for c in world.api.calls
        if c.method in ("sendPhoto", "sendDocument")
        and str(c.params.get("chat_id")) == str(chat_id)
    ]


async def test_a_stranger_gets_the_unknown_command_answer_and_nothing_else(world: World) -> None:
    stranger = world.api.user(STRANGER, "Eve")
    unknown = await replies(stranger, lambda: stranger.send_command("/nosuchcommand"), 2)
    assert unknown[0] == "I don't know the command /nosuchcommand."
    for command in COMMANDS:
        name = command.split()[0]
        answer = await replies(stranger, lambda c=command: stranger.send_text(c), 2)  # type: ignore[misc]
        assert answer == [t.replace("/nosuchcommand", name) for t in unknown], command
    stale = await replies(stranger, lambda: stranger.press_data("nosuch|payload"), 2)
    stale_notice = stranger.queries[-1].answer_text
    assert stale_notice
    for payload in PAYLOADS:
        answer = await replies(stranger, lambda p=payload: stranger.press_data(p), 2)  # type: ignore[misc]
        assert answer == stale, payload
        assert stranger.queries[-1].answer_text == stale_notice
    # Everything asked has been answered (one user's replies leave in order): no file went out.
    await replies(stranger, lambda: stranger.send_command("/nosuchcommand"), 2)
    assert files_sent_to(world, STRANGER) == []
    assert len(stranger.messages) == 2 * (3 + len(COMMANDS) + len(PAYLOADS))


async def test_an_organiser_gets_the_chart_as_a_photo_and_the_lists_as_files(
    world: World,
) -> None:
    boss = world.api.user(BOSS, "Olga")
    text, caption = await replies(boss, lambda: boss.send_command("/stats", CODE), 2)
    assert "Registered participants: 5" in text and "No-show rate: 50%" in text
    assert caption == "Italy–China Matchmaking Day (itcn-2026)"
    (photo,) = world.api.chat(BOSS).photos
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "PNG" and image.size == (900, 1100)

    await replies(boss, lambda: boss.send_command("/export", f"participants xlsx {CODE}"), 1)
    (workbook,) = world.api.chat(BOSS).documents
    assert workbook.file_name == f"ponte-participants-{CODE}-{workbook.file_name[-13:-5]}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
    assert sheet is not None and sheet.max_row == 1 + 5
    assert "王小明" in [c.value for c in sheet["B"]]

    await replies(boss, lambda: boss.send_command("/organiser"), 1)
    await replies(boss, lambda: boss.press("xport|meetings|csv|"), 1)
    meetings = world.api.chat(BOSS).documents[-1]
    assert meetings.file_name is not None and meetings.file_name.endswith(".csv")
    assert meetings.data.startswith(b"\xef\xbb\xbf") and "王小明".encode() in meetings.data
    assert files_sent_to(world, BOSS) == ["sendPhoto", "sendDocument", "sendDocument"]


def chat_menus(world: World, chat_id: int) -> list[list[dict[str, str]]]:
    """The command menus the bot set for one chat (setMyCommands with a chat scope)."""
    return [
        c.params["commands"]
        for c in world.api.calls_to("setMyCommands")
        if f"'chat_id': {chat_id}" in str(c.params.get("scope")).replace('"', "'")
    ]


async def test_an_organisers_menu_and_help_list_the_organiser_tools_and_nobody_elses(
    world: World,
) -> None:
    boss, stranger = world.api.user(BOSS, "Olga"), world.api.user(STRANGER, "Eve")
    (help_text,) = await replies(boss, lambda: boss.send_command("/help"), 1)
    assert help_text.splitlines()[-1] == "/organiser: Organiser tools"
    (others_help,) = await replies(stranger, lambda: stranger.send_command("/help"), 1)
    assert "/organiser" not in others_help
    assert chat_menus(world, BOSS) == []

    await replies(boss, lambda: boss.send_command("/organiser"), 1)
    await world.until(lambda: chat_menus(world, BOSS) != [], "the organiser's menu")
    (menu,) = chat_menus(world, BOSS)
    expected = [*menu_entries(COMMAND_MENU), *menu_entries(ORGANISER_COMMANDS)]
    assert [(entry["command"], entry["description"]) for entry in menu] == expected

    await replies(stranger, lambda: stranger.send_command("/organiser"), 2)
    await replies(stranger, lambda: stranger.send_command("/help"), 1)  # all answered by now
    assert chat_menus(world, STRANGER) == []


def menu_entries(entries: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    t = translator("en")
    return [(name, t.gettext(description)) for name, description in entries]
