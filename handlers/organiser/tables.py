"""Spreadsheets for organisers: tables of participants, meetings and feedback, as CSV or XLSX.

Cells that a spreadsheet would run as a formula are neutralised (OWASP "CSV injection"): a
text beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return. In CSV, which
has no types, it gets a leading apostrophe, the character Excel and LibreOffice take as
"this is text". In XLSX the cell is stored as text (never as a formula) with Excel's
quote-prefix flag, the one typing a leading apostrophe sets, so the text reads exactly as
the participant typed it and stays text when someone edits it. CSV is UTF-8 with a byte
order mark, without which Excel reads UTF-8 as the local code page and garbles Chinese and
accented Italian.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Cell = str | int | datetime | None

FORMATS = ("xlsx", "csv")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""
MAX_COLUMN_WIDTH = 50


@dataclass(frozen=True, slots=True)
class Table:
    """A sheet: its title, column headers and rows (times are aware, shown in UTC)."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def is_dangerous(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula."""
    return text.startswith(DANGEROUS_FIRST)


def neutralise(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading apostrophe when it is dangerous."""
    return "'" + text if is_dangerous(text) else text


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def to_csv(table: Table) -> bytes:
    """The table as CSV: UTF-8 with a byte order mark, comma-separated, times in ISO 8601 UTC."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return _utc(cell).isoformat().replace("+00:00", "Z")
    if isinstance(cell, int):
        return str(cell)
    return neutralise(cell)


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """The tables as an XLSX workbook, one sheet each; times as Excel dates in UTC."""
    workbook = Workbook()
    for index, table in enumerate(tables):
        sheet = workbook.create_sheet(_sheet_title(table.title), index)
        widths = [len(h) for h in table.headers]
        for column, header in enumerate(table.headers, start=1):
            cell = sheet.cell(row=1, column=column)
            _set_text(cell, header)
            cell.font = Font(bold=True)
        for row_number, row in enumerate(table.rows, start=2):
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(row=row_number, column=column)
                if isinstance(value, datetime):
                    # Excel has no time zones: the header says the times are UTC.
                    cell.value = _utc(value).replace(tzinfo=None)
                    cell.number_format = "yyyy-mm-dd hh:mm"
                    width = 16
                elif isinstance(value, int):
                    cell.value = value
                    width = len(str(value))
                elif value is not None:
                    _set_text(cell, value)
                    width = len(value)
                else:
                    width = 0
                widths[column - 1] = max(widths[column - 1], width)
        for column, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(column)].width = min(
                width + 2, MAX_COLUMN_WIDTH
            )
        sheet.freeze_panes = "A2"
    for empty in workbook.worksheets[len(tables) :]:  # the one a new workbook starts with
        workbook.remove(empty)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _set_text(cell: XlsxCell | MergedCell, text: str) -> None:
    """Store ``text`` as a text cell, never a formula (openpyxl takes "=…" for one)."""
    assert isinstance(cell, XlsxCell)  # a fresh sheet has no merged cells
    cell.value = text
    cell.data_type = "s"
    if is_dangerous(text):
        cell.quotePrefix = True


def _sheet_title(title: str) -> str:
    """A valid sheet title: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")
    return cleaned[:31] or "Sheet"
