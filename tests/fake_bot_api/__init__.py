"""A fake Telegram Bot API server for tests.

Real aiogram and python-telegram-bot clients talk HTTP to it on 127.0.0.1. It answers in
Telegram's exact shapes and error wording, keeps every chat's messages so tests can assert what a
user sees, simulates users (text, commands, button presses, contacts, blocking), supports long
polling and webhook delivery, and can inject failures (403/429/5xx) and latency.

Main entry points: :class:`FakeBotApi` (the server), :class:`SimulatedUser` (``api.user(...)``),
:class:`StoredMessage` / :class:`ChatState` (the message store) and :class:`CallRecord`
(``api.calls``).
"""

from . import errors
from .errors import ApiError
from .faults import NGINX_502_PAGE, Fault, FaultInjector
from .flood import FloodControl
from .html_parse import HtmlParseError, ParsedText, parse_html, utf16_len
from .markup import button_texts, find_button
from .models import (
    CallbackQueryRecord,
    CallRecord,
    ChatState,
    StoredFile,
    StoredMessage,
    WebhookDelivery,
)
from .params import UploadedFile
from .receiver import ReceivedUpdate, WebhookReceiver
from .server import DEFAULT_TOKEN, FakeBotApi
from .updates import SECRET_HEADER
from .users import ButtonNotFoundError, SimulatedUser

__all__ = [
    "DEFAULT_TOKEN",
    "NGINX_502_PAGE",
    "SECRET_HEADER",
    "ApiError",
    "ButtonNotFoundError",
    "CallRecord",
    "CallbackQueryRecord",
    "ChatState",
    "FakeBotApi",
    "Fault",
    "FaultInjector",
    "FloodControl",
    "HtmlParseError",
    "ParsedText",
    "ReceivedUpdate",
    "SimulatedUser",
    "StoredFile",
    "StoredMessage",
    "UploadedFile",
    "WebhookDelivery",
    "WebhookReceiver",
    "button_texts",
    "errors",
    "find_button",
    "parse_html",
    "utf16_len",
]
