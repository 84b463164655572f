"""Telegram-shaped API errors and the exact descriptions the real Bot API server uses.

Every failure the fake server produces is an :class:`ApiError`; the server turns it into the
body ``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` with the HTTP
status equal to ``error_code`` (aiogram and python-telegram-bot both classify errors by status).

The description strings below were checked against the official Bot API server and tdlib sources
and against error bodies captured from the live service; a few that could not be confirmed are
marked "approximate".
"""

from __future__ import annotations

from typing import Any

# --- descriptions used verbatim by the real server ---------------------------------------------
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
CANT_PARSE_ENTITIES = "Bad Request: can't parse entities: {detail}"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
TEXT_BUTTONS_UNALLOWED = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)
BUTTON_FIELD_TYPE = (
    'Bad Request: can\'t parse inline keyboard button: Field "{field}" must be of type {kind}'
)
BUTTON_NO_TEXT = "Bad Request: can't parse inline keyboard button: Can't find field \"text\""
MARKUP_JSON = "Bad Request: can't parse reply keyboard markup JSON object"
MESSAGE_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MESSAGE_CANT_BE_EDITED = "Bad Request: message can't be edited"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BOT_BLOCKED = "Forbidden: bot was blocked by the user"
USER_DEACTIVATED = "Forbidden: user is deactivated"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WRONG_FILE_ID = "Bad Request: wrong file_id or the file is temporarily unavailable"
WRONG_FILE_SPEC = "Bad Request: wrong file identifier/HTTP URL specified"
CHAT_ACTION_INVALID = "Bad Request: wrong parameter action in request"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
REPLY_MARKUP_TOO_LONG = "Bad Request: REPLY_MARKUP_TOO_LONG"
ENTITY_TOO_LARGE = "Request Entity Too Large"
NO_DOCUMENT = "Bad Request: there is no document in the request"
NO_PHOTO = "Bad Request: there is no photo in the request"
IMAGE_PROCESS_FAILED = "Bad Request: IMAGE_PROCESS_FAILED"
PHOTO_INVALID_DIMENSIONS = "Bad Request: PHOTO_INVALID_DIMENSIONS"
URL_CONTENT_FAILED = "Bad Request: failed to get HTTP URL content"
HTTPS_WEBHOOK_REQUIRED = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"

# --- approximate descriptions (same status as the real server; wording not confirmed) ------------
INLINE_KEYBOARD_SHAPE = (
    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
)
REPLY_KEYBOARD_SHAPE = (
    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
)
BUTTON_NOT_OBJECT = (
    "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object"
)
BUTTON_SEVERAL_ACTIONS = (
    "Bad Request: can't parse inline keyboard button: exactly one of the optional fields must be "
    "used (fake Bot API strictness; the real server silently takes the first one)"
)
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
KEYBOARD_BUTTON_INVALID = (
    'Bad Request: can\'t parse keyboard button: Field "text" must be of type String'
)
INLINE_KEYBOARD_EXPECTED = "Bad Request: inline keyboard expected"
ENTITIES_JSON = "Bad Request: can't parse entities JSON object"
BOT_COMMAND_DESCRIPTION_INVALID = "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
SECRET_TOKEN_INVALID = "Bad Request: secret token contains unallowed characters"
PARAMETER_INVALID = "Bad Request: invalid parameter {name}"
LANGUAGE_CODE_INVALID = "Bad Request: invalid language code specified"

#: Default description for a bare HTTP status (used by injected faults).
STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request",
    401: UNAUTHORIZED,
    403: BOT_BLOCKED,
    404: NOT_FOUND,
    409: TERMINATED_BY_OTHER_POLL,
    413: ENTITY_TOO_LARGE,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def retry_after_description(seconds: int) -> str:
    """The description of a 429 answer, e.g. ``Too Many Requests: retry after 5``."""
    return f"Too Many Requests: retry after {seconds}"


class ApiError(Exception):
    """A failed Bot API call: HTTP status, description and optional response parameters.

    ``raw_body`` replaces the JSON body entirely (e.g. the HTML page nginx serves for a 502).
    """

    def __init__(
        self,
        status: int,
        description: str | None = None,
        *,
        parameters: dict[str, Any] | None = None,
        raw_body: str | None = None,
    ) -> None:
        if description is None:
            description = STATUS_DESCRIPTIONS.get(status, f"Error {status}")
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters
        self.raw_body = raw_body

    @property
    def retry_after(self) -> int | None:
        """``parameters.retry_after`` for 429 answers, else None."""
        if self.parameters is None:
            return None
        value = self.parameters.get("retry_after")
        return int(value) if value is not None else None

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram would send for this error."""
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            payload["parameters"] = dict(self.parameters)
        return payload

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers (``Retry-After`` for 429)."""
        if self.retry_after is not None:
            return {"Retry-After": str(self.retry_after)}
        return {}


def bad_request(description: str) -> ApiError:
    """A 400 error with the given full description (``Bad Request: ...``)."""
    return ApiError(400, description)


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 error carrying ``parameters.retry_after`` (and, when sent, a Retry-After header)."""
    return ApiError(
        429,
        retry_after_description(retry_after),
        parameters={"retry_after": retry_after},
    )
