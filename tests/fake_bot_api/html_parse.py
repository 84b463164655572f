"""Telegram's HTML parse mode: turns ``<b>hi</b> &amp; bye`` into plain text plus entities.

This follows the behaviour of the parser inside tdlib, which the Bot API server uses, rather than
a browser's: only the documented tags are accepted, ``&lt; &gt; &amp; &quot;`` and numeric
references are decoded, an ``&`` that does not start a known entity is kept literally, a ``<``
always starts a tag, attributes may be unquoted name tokens, and errors name the byte offset in
the UTF-8 text. Entity offsets and lengths are in UTF-16 code units, like the real API.
Afterwards leading and trailing whitespace is trimmed and entities are clipped to the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SPACES = frozenset(" \t\r\n\0\v\f")
_TRIM = " \t\r\n\v\f"
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "u": "underline", "ins": "underline", "tg-spoiler": "spoiler",
}  # fmt: skip


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str()`` is the detail after "can't parse entities: "."""


@dataclass
class ParsedText:
    """Plain text after entity parsing and its entities (Telegram MessageEntity dicts)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_index: int  # index in the output list, to recover the inner text of <a> without href


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram measures entity offsets)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(s: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``s[pos] == '&'``; None if it is not one."""
    end = pos + 1
    code = 0
    if s[pos + 1] == "#":
        end += 1
        digits_start = end
        if s[pos + 2] == "x":
            end += 1
            digits_start = end
            while s[end] in "0123456789abcdefABCDEF" and s[end] != "\0":
                end += 1
            code = int(s[digits_start:end], 16) if end > digits_start else 0
        else:
            while s[end].isascii() and s[end].isdigit():
                end += 1
            code = int(s[digits_start:end]) if end > digits_start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while s[end].isascii() and s[end].isalpha():
            end += 1
        name = s[pos + 1 : end]
        if name not in _NAMED_ENTITIES:
            return None
        char = _NAMED_ENTITIES[name]
    if s[end] == ";":
        end += 1
    return char, end


def parse_html(text: str) -> ParsedText:
    """Parse Telegram HTML; raise :class:`HtmlParseError` with Telegram's wording on bad markup."""
    n = len(text)
    s = text + "\0"  # sentinel, like the C string the real parser walks
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    i = 0
    while i < n:
        c = s[i]
        if c == "&":
            decoded = _decode_entity(s, i)
            if decoded is not None:
                out.append(decoded[0])
                utf16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            utf16 += utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if s[i] != "/":
            i = _parse_start_tag(text, s, begin, i, stack, utf16, len(out))
        else:
            i = _parse_end_tag(text, s, begin, i, stack, entities, out, utf16)
        i += 1  # skip '>'
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in out):
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return _trim("".join(out), entities)


def _parse_start_tag(
    text: str, s: str, begin: int, i: int, stack: list[_Open], utf16: int, out_index: int
) -> int:
    n = len(text)
    at = _byte_offset(text, begin)
    while s[i] not in _SPACES and s[i] != ">":
        i += 1
    if i >= n:
        raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
    tag = s[begin + 1 : i].lower()
    if tag not in SUPPORTED_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {at}')
    argument = ""
    while s[i] != ">":
        while i < n and s[i] in _SPACES:
            i += 1
        if s[i] == ">":
            break
        name_start = i
        while s[i] not in _SPACES and s[i] not in "=>/\"'":
            i += 1
        attr = s[name_start:i]
        if not attr:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
        while i < n and s[i] in _SPACES:
            i += 1
        if s[i] != "=":
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
            if tag == "blockquote" and attr == "expandable":
                argument = "1"
            continue
        i += 1
        while i < n and s[i] in _SPACES:
            i += 1
        if i >= n:
            raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
        value, i = _read_attribute_value(text, s, i)
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
        if tag == "a" and attr == "href":
            argument = value
        elif tag == "code" and attr == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and attr == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and attr == "emoji-id":
            argument = value
        elif tag == "blockquote" and attr == "expandable":
            argument = "1"
    if tag == "span" and argument != "spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    stack.append(_Open(tag, argument, utf16, out_index))
    return i


def _read_attribute_value(text: str, s: str, i: int) -> tuple[str, int]:
    if s[i] not in "'\"":
        start = i
        while (s[i].isascii() and s[i].isalnum()) or s[i] in ".-":
            i += 1
        if s[i] not in _SPACES and s[i] != ">":
            raise HtmlParseError(
                f"Unexpected end of name token at byte offset {_byte_offset(text, start)}"
            )
        return s[start:i].lower(), i
    quote = s[i]
    i += 1
    chars: list[str] = []
    while i < len(text) and s[i] != quote:
        if s[i] == "&":
            decoded = _decode_entity(s, i)
            if decoded is not None:
                chars.append(decoded[0])
                i = decoded[1]
                continue
        chars.append(s[i])
        i += 1
    if s[i] == quote and i < len(text):
        i += 1
    return "".join(chars), i


def _parse_end_tag(
    text: str,
    s: str,
    begin: int,
    i: int,
    stack: list[_Open],
    entities: list[dict[str, Any]],
    out: list[str],
    utf16: int,
) -> int:
    at = _byte_offset(text, begin)
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {at}")
    while s[i] not in _SPACES and s[i] != ">":
        i += 1
    end_tag = s[begin + 2 : i].lower()
    while i < len(text) and s[i] in _SPACES:
        i += 1
    if s[i] != ">":
        raise HtmlParseError(f"Unclosed end tag at byte offset {at}")
    opened = stack[-1]
    if end_tag and end_tag != opened.tag:
        raise HtmlParseError(
            f'Unmatched end tag at byte offset {at}, expected "</{opened.tag}>", '
            f'found "</{end_tag}>"'
        )
    if utf16 > opened.offset:
        _add_entity(opened, utf16 - opened.offset, entities, out)
    stack.pop()
    return i


def _add_entity(opened: _Open, length: int, entities: list[dict[str, Any]], out: list[str]) -> None:
    tag, offset = opened.tag, opened.offset
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _SIMPLE_TYPES or tag == "span":
        entities.append(
            {"type": _SIMPLE_TYPES.get(tag, "spoiler"), "offset": offset, "length": length}
        )
    elif tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entities.append(
            {"type": "custom_emoji", "offset": offset, "length": length,
             "custom_emoji_id": str(int(opened.argument))}
        )  # fmt: skip
    elif tag == "a":
        url = opened.argument or "".join(out[opened.out_index :])
        if url:
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})
    elif tag == "pre":
        if same_span and last is not None and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        if same_span and last is not None and last["type"] == "pre" and opened.argument:
            last["language"] = opened.argument
        else:
            entity: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                entity["language"] = opened.argument
            entities.append(entity)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def _trim(text: str, entities: list[dict[str, Any]]) -> ParsedText:
    """Strip surrounding whitespace like Telegram does, clipping entities to what remains."""
    stripped = text.strip(_TRIM)
    if stripped == text:
        return ParsedText(text, entities)
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    end = lead + utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            kept.append({**entity, "offset": start - lead, "length": stop - start})
    return ParsedText(stripped, kept)


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text a user would see for ``text`` sent with ``parse_mode`` (HTML parsed, else as is)."""
    if parse_mode is not None and parse_mode.lower() == "html":
        return parse_html(text).text
    return text.strip(_TRIM)
