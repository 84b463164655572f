"""Bot API methods that send, edit and delete messages, and answer callback queries.

Parameters are validated before the chat is resolved, and the user's state (blocked, deleted
account) is checked last, which is the order in which the real server reports problems.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ApiError, bad_request
from .html_parse import HtmlParseError, ParsedText, parse_html
from .markup import Markup, load_inline_markup, load_markup
from .models import ChatState, StoredFile, StoredMessage
from .params import Params, UploadedFile

if TYPE_CHECKING:
    from .server import FakeBotApi

Handler = Callable[["FakeBotApi", Params], Awaitable[Any]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_TRIM = " \t\r\n\v\f"


def format_text(raw: str, parse_mode: str | None, entities: Any) -> ParsedText:
    """Apply ``parse_mode`` (or explicit ``entities``) to ``raw`` like the Bot API does."""
    if entities not in (None, "", []):
        if not isinstance(entities, list) or not all(
            isinstance(e, dict) and isinstance(e.get("type"), str) for e in entities
        ):
            raise bad_request(errors.ENTITIES_JSON)
        return ParsedText(raw.strip(_TRIM), [dict(e) for e in entities])
    if not parse_mode:
        return ParsedText(raw.strip(_TRIM))
    mode = parse_mode.lower()
    if mode == "html":
        try:
            return parse_html(raw)
        except HtmlParseError as exc:
            raise bad_request(errors.CANT_PARSE_ENTITIES.format(detail=exc)) from None
    if mode in ("markdown", "markdownv2"):
        return ParsedText(raw.strip(_TRIM))  # not parsed by the fake server
    raise bad_request(errors.UNSUPPORTED_PARSE_MODE)


def _message_text(p: Params, field: str = "text") -> tuple[str, ParsedText]:
    raw = p.get_str(field) or ""
    if not raw:
        raise bad_request(errors.TEXT_EMPTY)
    parsed = format_text(raw, p.get_str("parse_mode"), p.get_json("entities"))
    if not parsed.text:
        raise bad_request(errors.TEXT_EMPTY)
    if len(parsed.text) > MAX_TEXT:
        raise bad_request(errors.TEXT_TOO_LONG)
    return raw, parsed


def _caption(p: Params) -> tuple[str | None, ParsedText]:
    raw = p.get_str("caption")
    if not raw:
        return None, ParsedText("")
    parsed = format_text(raw, p.get_str("parse_mode"), p.get_json("caption_entities"))
    if len(parsed.text) > MAX_CAPTION:
        raise bad_request(errors.CAPTION_TOO_LONG)
    return raw, parsed


def _chat_id(p: Params) -> Any:
    chat_id = p.get("chat_id")
    if chat_id in (None, ""):
        raise bad_request(errors.CHAT_ID_EMPTY)
    return chat_id


def _resolve(api: FakeBotApi, chat_id: Any) -> ChatState:
    chat = api.find_chat(chat_id)
    if chat is None:
        raise bad_request(errors.CHAT_NOT_FOUND)
    return chat


def _check_can_send(chat: ChatState) -> None:
    if chat.deactivated:
        raise ApiError(403, errors.USER_DEACTIVATED)
    if chat.blocked:
        raise ApiError(403, errors.BOT_BLOCKED)
    if not chat.started:
        raise ApiError(403, errors.CANT_INITIATE)


def _check_reply_target(chat: ChatState, p: Params) -> None:
    reply = p.get_json("reply_parameters")
    target = p.get_int("reply_to_message_id")
    allow_missing = p.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        target = reply.get("message_id", target)
        allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
    if target is not None and chat.get(int(target)) is None and not allow_missing:
        raise bad_request(errors.REPLY_NOT_FOUND)


def _apply_markup(chat: ChatState, markup: Markup | None) -> dict[str, Any]:
    """Message fields for ``markup``; reply keyboards also change what the user's keyboard shows."""
    if markup is None:
        return {}
    if markup.is_inline:
        return {"reply_markup": markup.data}
    if markup.kind == "keyboard":
        chat.reply_keyboard = markup.data
    elif markup.kind == "remove":
        chat.reply_keyboard = None
    return {"keyboard": markup.data}


async def send_message(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """sendMessage."""
    chat_id = _chat_id(p)
    raw, parsed = _message_text(p)
    markup = load_markup(p.get_json("reply_markup"))
    chat = _resolve(api, chat_id)
    _check_reply_target(chat, p)
    _check_can_send(chat)
    message = chat.add(
        from_bot=True,
        text=parsed.text,
        html=raw,
        parse_mode=p.get_str("parse_mode"),
        entities=parsed.entities,
        **_apply_markup(chat, markup),
    )
    return api.message_dict(chat, message)


async def send_document(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """sendDocument (multipart upload, ``attach://`` part, or a known file_id)."""
    chat_id = _chat_id(p)
    document = p.get_file("document")
    if document is None:
        raise bad_request(errors.NO_DOCUMENT)
    raw_caption, caption = _caption(p)
    markup = load_markup(p.get_json("reply_markup"))
    chat = _resolve(api, chat_id)
    _check_reply_target(chat, p)
    _check_can_send(chat)
    file = _document_file(api, document)
    message = chat.add(
        from_bot=True,
        document=file,
        caption=caption.text or None,
        caption_html=raw_caption,
        caption_entities=caption.entities,
        parse_mode=p.get_str("parse_mode"),
        **_apply_markup(chat, markup),
    )
    return api.message_dict(chat, message)


async def send_photo(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """sendPhoto: an uploaded PNG or JPEG (checked like Telegram: an image, at most 10 MB,
    width and height adding up to at most 10,000 pixels), or a known file_id."""
    chat_id = _chat_id(p)
    photo = p.get_file("photo")
    if photo is None:
        raise bad_request(errors.NO_PHOTO)
    raw_caption, caption = _caption(p)
    markup = load_markup(p.get_json("reply_markup"))
    chat = _resolve(api, chat_id)
    _check_reply_target(chat, p)
    _check_can_send(chat)
    if isinstance(photo, UploadedFile):
        if len(photo.data) > MAX_PHOTO_BYTES:
            raise ApiError(413, errors.ENTITY_TOO_LARGE)
        size = image_size(photo.data)
        if size is None:
            raise bad_request(errors.IMAGE_PROCESS_FAILED)
        if sum(size) > MAX_PHOTO_SIDES:
            raise bad_request(errors.PHOTO_INVALID_DIMENSIONS)
        mime = "image/png" if photo.data.startswith(PNG_SIGNATURE) else "image/jpeg"
        file = api.new_file(photo.data, kind="photos", mime_type=mime)
    else:
        file, size = _document_file(api, photo), (0, 0)
    message = chat.add(
        from_bot=True,
        photo=file,
        photo_size=size,
        caption=caption.text or None,
        caption_html=raw_caption,
        caption_entities=caption.entities,
        parse_mode=p.get_str("parse_mode"),
        **_apply_markup(chat, markup),
    )
    return api.message_dict(chat, message)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, ``(0, 0)`` for a JPEG; ``None`` when it is neither."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        return (0, 0)
    return None


def _document_file(api: FakeBotApi, document: UploadedFile | str) -> StoredFile:
    if isinstance(document, UploadedFile):
        if len(document.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, errors.ENTITY_TOO_LARGE)
        name = document.filename or "document"
        mime = mimetypes.guess_type(name)[0] or document.content_type or "application/octet-stream"
        return api.new_file(document.data, kind="documents", file_name=name, mime_type=mime)
    known = api.files.get(document)
    if known is not None:
        return known
    if document.startswith(("http://", "https://")):
        raise bad_request(errors.URL_CONTENT_FAILED)
    raise bad_request(errors.WRONG_FILE_SPEC)


def _message_to_edit(api: FakeBotApi, p: Params) -> tuple[ChatState, StoredMessage]:
    if p.get("inline_message_id") is not None:
        raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)  # inline messages are not simulated
    chat = _resolve(api, _chat_id(p))
    message_id = p.get_int("message_id")
    message = chat.get(message_id) if message_id is not None else None
    if message is None:
        raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)
    if not message.from_bot:
        raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
    return chat, message


def _remember_edit(api: FakeBotApi, message: StoredMessage) -> None:
    message.edits.append(
        {"text": message.text, "html": message.html, "caption": message.caption,
         "reply_markup": message.reply_markup, "edit_date": message.edit_date}
    )  # fmt: skip
    message.edit_date = api.now()


async def edit_message_text(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """editMessageText; omitting reply_markup removes the inline keyboard, as on Telegram."""
    raw, parsed = _message_text(p)
    markup = load_inline_markup(p.get_json("reply_markup"))
    chat, message = _message_to_edit(api, p)
    if message.text is None:
        raise bad_request(errors.NO_TEXT_TO_EDIT)
    new_markup = markup.data if markup else None
    if (message.text, message.entities, message.reply_markup) == (
        parsed.text,
        parsed.entities,
        new_markup,
    ):
        raise bad_request(errors.MESSAGE_NOT_MODIFIED)
    _remember_edit(api, message)
    message.text, message.html, message.entities = parsed.text, raw, parsed.entities
    message.parse_mode = p.get_str("parse_mode")
    message.reply_markup = new_markup
    return api.message_dict(chat, message)


async def edit_message_caption(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """editMessageCaption (documents)."""
    raw, caption = _caption(p)
    markup = load_inline_markup(p.get_json("reply_markup"))
    chat, message = _message_to_edit(api, p)
    new_markup = markup.data if markup else None
    new_caption = caption.text or None
    if (message.caption, message.caption_entities, message.reply_markup) == (
        new_caption,
        caption.entities,
        new_markup,
    ):
        raise bad_request(errors.MESSAGE_NOT_MODIFIED)
    _remember_edit(api, message)
    message.caption, message.caption_html = new_caption, raw
    message.caption_entities, message.reply_markup = caption.entities, new_markup
    return api.message_dict(chat, message)


async def edit_message_reply_markup(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """editMessageReplyMarkup; no reply_markup means "remove the keyboard"."""
    markup = load_inline_markup(p.get_json("reply_markup"))
    chat, message = _message_to_edit(api, p)
    new_markup = markup.data if markup else None
    if message.reply_markup == new_markup:
        raise bad_request(errors.MESSAGE_NOT_MODIFIED)
    _remember_edit(api, message)
    message.reply_markup = new_markup
    return api.message_dict(chat, message)


async def delete_message(api: FakeBotApi, p: Params) -> bool:
    """deleteMessage (bot's or user's messages in the private chat)."""
    chat = _resolve(api, _chat_id(p))
    message_id = p.get_int("message_id")
    message = chat.get(message_id) if message_id is not None else None
    if message is None:
        raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
    message.deleted = True
    return True


async def send_chat_action(api: FakeBotApi, p: Params) -> bool:
    """sendChatAction; the actions are kept in ``chat.actions``."""
    chat_id = _chat_id(p)
    action = p.get_str("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad_request(errors.CHAT_ACTION_INVALID)
    chat = _resolve(api, chat_id)
    _check_can_send(chat)
    chat.actions.append(action)
    return True


async def answer_callback_query(api: FakeBotApi, p: Params) -> bool:
    """answerCallbackQuery: each query can be answered once."""
    query = api.callback_queries.get(p.get_str("callback_query_id") or "")
    if query is None or query.answered:
        raise bad_request(errors.QUERY_TOO_OLD)
    query.answered = True
    query.answer_text = p.get_str("text")
    query.show_alert = p.get_bool("show_alert")
    query.url = p.get_str("url")
    query.cache_time = p.get_int("cache_time")
    return True


async def get_file(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """getFile; download from ``/file/bot<token>/<file_path>``."""
    file = api.files.get(p.get_str("file_id") or "")
    if file is None:
        raise bad_request(errors.WRONG_FILE_ID)
    return file.as_file()


async def get_chat(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """getChat (ChatFullInfo of a private chat)."""
    chat = _resolve(api, _chat_id(p))
    return {**chat.chat, "accent_color_id": 0, "max_reaction_count": 11}


MESSAGE_METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "sendDocument": send_document,
    "sendPhoto": send_photo,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "sendChatAction": send_chat_action,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
    "getChat": get_chat,
}
