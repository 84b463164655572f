"""Each framework's transport and update conversion, through the real framework talking HTTP
to the fake Bot API: what the server reads, what the user sees, and which of the bridge's
errors each refusal becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.channels.telegram import aiogram_runtime, ptb_runtime
from bot.channels.telegram.transport import (
    Blocked,
    NotModified,
    Rejected,
    RetryLater,
    Transient,
    Transport,
)
from bot.channels.telegram.updates import parse_update
from handlers.kernel.incoming import (
    ButtonPress,
    ContactShared,
    ReachabilityChanged,
    UnsupportedMessage,
)
from tests.fake_bot_api import NGINX_502_PAGE, FakeBotApi, SimulatedUser
from tests.telegram_world import FRAMEWORKS, free_port

pytestmark = pytest.mark.parametrize("framework", FRAMEWORKS)

KEYBOARD = {"inline_keyboard": [[{"text": "<b>Acme & Co</b>", "callback_data": "org|1"}]]}
CONTACT = {
    "keyboard": [[{"text": "📱 Share my number", "request_contact": True}]],
    "resize_keyboard": True,
    "one_time_keyboard": True,
}
TEXT = "<b>Acme &amp; Co</b> 你好"
HTML_OPTIONS = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


@dataclass
class Client:
    """One framework's bot, as Ponte builds it, and what the bridge gets from it."""

    transport: Transport
    poll: Callable[[int | None], Awaitable[list[dict[str, Any]]]]  # getUpdates(offset) → JSON
    close: Callable[[], Awaitable[None]]


async def make_client(framework: str, token: str, api_base: str) -> Client:
    if framework == "aiogram":
        bot = aiogram_runtime.build_bot(token, api_base)

        async def poll_aiogram(offset: int | None) -> list[dict[str, Any]]:
            updates = await bot.get_updates(offset=offset, timeout=0)
            return [aiogram_runtime.update_json(update) for update in updates]

        return Client(aiogram_runtime.AiogramTransport(bot), poll_aiogram, bot.session.close)
    requests = ptb_runtime.build_requests()
    application = ptb_runtime.build_application(token, api_base, requests)
    for request in requests:
        await request.initialize()  # as application.initialize does, without its getMe

    async def poll_ptb(offset: int | None) -> list[dict[str, Any]]:
        updates = await application.bot.get_updates(offset=offset, timeout=0)
        return [update.to_dict() for update in updates]

    async def close_ptb() -> None:
        for request in requests:
            await request.shutdown()

    return Client(ptb_runtime.PTBTransport(application), poll_ptb, close_ptb)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def lin(api: FakeBotApi) -> SimulatedUser:
    return api.user(42, "Lin", language_code="zh-hans")


@pytest.fixture
async def client(framework: str, api: FakeBotApi) -> AsyncIterator[Client]:
    made = await make_client(framework, api.token, api.base_url)
    try:
        yield made
    finally:
        await made.close()


def params_of(api: FakeBotApi, method: str) -> dict[str, Any]:
    """The parameters of the one call of ``method``, as the server decoded them."""
    (call,) = api.calls_to(method)
    assert call.ok, call.response
    return call.params


async def test_a_reply_is_html_without_previews_with_its_buttons(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    message_id = await client.transport.send_message(42, TEXT, KEYBOARD)
    params = params_of(api, "sendMessage")
    assert {k: params.get(k) for k in ("chat_id", "text", *HTML_OPTIONS)} == {
        "chat_id": 42,
        "text": TEXT,
        **HTML_OPTIONS,
    }
    assert params["reply_markup"] == KEYBOARD
    stored = api.last_message(42)
    assert stored is not None and stored.message_id == message_id
    assert lin.last_text == "Acme & Co 你好" and lin.last_buttons == ["<b>Acme & Co</b>"]


async def test_the_contact_keyboard_and_its_removal(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    await client.transport.send_message(42, "Your phone?", CONTACT)
    assert lin.keyboard == ["📱 Share my number"]
    assert api.calls_to("sendMessage")[0].params["reply_markup"] == CONTACT
    await client.transport.send_message(42, "Thank you.", {"remove_keyboard": True})
    assert lin.keyboard == []
    assert lin.texts[-2:] == ["Your phone?", "Thank you."]


async def test_an_edit_changes_the_message_and_a_repeated_one_is_not_modified(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    message_id = await client.transport.send_message(42, TEXT, KEYBOARD)
    await client.transport.edit_message(42, message_id, "<i>Scelto</i>", None)
    params = params_of(api, "editMessageText")
    assert (params["message_id"], params["text"], params["parse_mode"]) == (
        message_id,
        "<i>Scelto</i>",
        "HTML",
    )
    assert lin.last_text == "Scelto" and lin.last_buttons == []
    await client.transport.edit_message(42, message_id, "<i>Scelto</i>", KEYBOARD)
    assert lin.last_buttons == ["<b>Acme & Co</b>"]
    with pytest.raises(NotModified):
        await client.transport.edit_message(42, message_id, "<i>Scelto</i>", KEYBOARD)


async def test_telegrams_refusals_become_the_bridges_errors(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    send = client.transport.send_message
    with pytest.raises(Rejected, match=r"(?i)chat not found"):
        await send(99, "x", None)
    with pytest.raises(Rejected, match=r"(?i)can.t parse entities"):
        await send(42, "<b>open", None)
    api.inject(status=429, method="sendMessage", retry_after=3)
    with pytest.raises(RetryLater) as limited:
        await send(42, "x", None)
    assert limited.value.retry_after == 3
    api.inject(status=500, method="sendMessage")
    with pytest.raises(Transient):
        await send(42, "x", None)
    lin.block()
    with pytest.raises(Blocked, match=r"(?i)blocked by the user"):
        await send(42, "x", None)
    assert lin.texts == []  # nothing was shown


async def test_a_proxys_html_error_page_is_transient(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    api.inject(method="sendMessage", status=502, raw_body=NGINX_502_PAGE)
    with pytest.raises(Transient):
        await client.transport.send_message(42, "x", None)
    await client.transport.send_message(42, "again", None)  # the next call goes through
    assert lin.texts == ["again"]


async def test_an_unreachable_server_is_transient(framework: str) -> None:
    nowhere = await make_client(framework, "1:x", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(Transient):
            await nowhere.transport.send_message(42, "x", None)
    finally:
        await nowhere.close()


async def test_a_document_is_uploaded_with_an_html_caption(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    await client.transport.send_document(
        42, "ponte-my-data.json", b'{"name": "Lin"}', "<b>Dati</b>"
    )
    (call,) = api.calls_to("sendDocument")
    assert call.encoding == "multipart" and call.ok
    assert (call.params["caption"], call.params["parse_mode"]) == ("<b>Dati</b>", "HTML")
    (document,) = api.sent_documents(42)
    assert (document.file_name, document.data) == ("ponte-my-data.json", b'{"name": "Lin"}')


async def test_menus_and_descriptions(api: FakeBotApi, client: Client, lin: SimulatedUser) -> None:
    await client.transport.set_commands([("start", "Avvia"), ("help", "Aiuto")], "it", None)
    await client.transport.set_commands([("start", "开始")], None, 42)
    default, chat = api.calls_to("setMyCommands")
    assert default.params["commands"] == [
        {"command": "start", "description": "Avvia"},
        {"command": "help", "description": "Aiuto"},
    ]
    assert (
        default.params["scope"] == {"type": "default"} and default.params["language_code"] == "it"
    )
    assert chat.params["scope"] == {"type": "chat", "chat_id": 42}
    assert chat.params.get("language_code") is None
    await client.transport.set_descriptions("Ponte: incontri", "Ponte", "it")
    assert params_of(api, "setMyDescription")["description"] == "Ponte: incontri"
    assert params_of(api, "setMyShortDescription")["language_code"] == "it"
    assert await client.transport.bot_username() == api.bot_user["username"]


async def test_polled_updates_mean_to_the_bridge_what_telegram_sent(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    """Whatever the framework makes of them, the updates it hands over parse to the same
    incoming messages as the JSON Telegram sent: texts, deep links, presses, contacts, blocks."""
    message_id = await client.transport.send_message(42, "Org?", KEYBOARD)
    lin.send_text("你好 <b>&amp;")
    lin.send_command("/start", "itcn-demo")
    lin.press("org|1")
    lin.share_contact("+393331234567")
    lin.send_photo(caption="me")
    lin.block()
    # A press on a message the bot can no longer reach: Telegram sends it with date 0.
    inaccessible = {"message_id": message_id, "date": 0, "chat": {"id": 42, "type": "private"}}
    query = {"id": "77", "from": lin.user_dict, "chat_instance": "1", "data": "org|1"}
    api.enqueue_update({"callback_query": {**query, "message": inaccessible}})
    raw = api.pending_updates
    assert len(raw) == 7
    handed = await client.poll(None)
    assert [u["update_id"] for u in handed] == [u["update_id"] for u in raw]
    parsed = [parse_update(u) for u in handed]
    assert parsed == [parse_update(u) for u in raw]
    kinds = [type(p.incoming) for p in parsed if p is not None]
    assert kinds[2:] == [ButtonPress, ContactShared, UnsupportedMessage, ReachabilityChanged,
                         ButtonPress]  # fmt: skip
    press, stale = parsed[2], parsed[-1]
    assert press is not None and press.callback_message_id == message_id
    assert stale is not None and stale.callback_message_id is None and stale.callback_id == "77"
    # The next poll's offset confirms them, as each framework's polling does.
    assert await client.poll(handed[-1]["update_id"] + 1) == []
    assert api.pending_updates == []


async def test_markup_ponte_does_not_make_is_refused_before_any_call(
    api: FakeBotApi, client: Client, lin: SimulatedUser
) -> None:
    with pytest.raises(ValueError, match="keyboard"):
        await client.transport.send_message(42, "x", {"force_reply": True})
    message_id = await client.transport.send_message(42, "x", None)
    with pytest.raises(ValueError, match="inline buttons"):
        await client.transport.edit_message(42, message_id, "y", CONTACT)
    assert len(api.calls_to("sendMessage")) == 1 and api.calls_to("editMessageText") == []
