"""Spreadsheets in and out: CSV (UTF-8, with or without BOM) and XLSX (openpyxl), as a header
row and rows of text, so importers and exporters need not care which one a user has."""
from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import date, datetime
from itertools import zip_longest
from typing import Any, Iterable

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.exceptions import InvalidFileException

from .errors import InvalidInput

FORMATS = (".csv", ".xlsx")
MAX_ROWS = 100_000


def _format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InvalidInput(f"{os.path.basename(path)}: not a .csv or .xlsx file")
    return ext


def _text(value: Any) -> str:
    """A cell as text: whole numbers without ".0" (ticket numbers, phones), dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def _check_header(name: str, header: list[str]) -> list[str]:
    if not any(header):
        raise InvalidInput(f"{name}: no header row")
    seen = [h for h in header if h]
    if len(seen) != len(set(seen)):
        raise InvalidInput(f"{name}: the header names a column twice")
    return header


def read(path: str, sheet: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (column -> text) of a CSV or XLSX file (its sheet ``sheet``, or
    the first); InvalidInput naming the file when it is not what its name says."""
    name = os.path.basename(path)
    if _format(path) == ".csv":
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                lines = list(csv.reader(fh, strict=True))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
        except csv.Error as exc:
            raise InvalidInput(f"{name}: malformed CSV: {exc}") from None
    else:
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise InvalidInput(f"{name}: not a readable XLSX workbook ({type(exc).__name__})") from None
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise InvalidInput(f"{name}: no sheet '{sheet}' (sheets: {', '.join(book.sheetnames)})")
            ws = book[sheet] if sheet is not None else book.worksheets[0]
            lines = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        finally:
            book.close()
    while lines and not any(cell.strip() for cell in lines[-1]):
        lines.pop()
    if not lines:
        raise InvalidInput(f"{name}: empty")
    if len(lines) - 1 > MAX_ROWS:
        raise InvalidInput(f"{name}: more than {MAX_ROWS} rows; split it")
    header = _check_header(name, [h.strip() for h in lines[0]])
    rows = []
    for line in lines[1:]:
        cells = list(zip_longest(header, (c.strip() for c in line), fillvalue=""))
        row = {h: c for h, c in cells if h}
        stray = [c for h, c in cells if not h and c]
        if stray:  # cells under no header: the row is malformed
            row[""] = "\t".join(stray)
        rows.append(row)
    return header, rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    """Text a spreadsheet program would run as a formula (``=HYPERLINK(...)`` in a citizen's
    comment) gets a leading apostrophe in CSV, as OWASP advises; numbers stay numbers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write(path: str, header: list[str], rows: Iterable[list[Any]]) -> None:
    """Write a CSV (UTF-8 with BOM, so spreadsheet programs read Chinese) or an XLSX file
    (text cells stored as text, never as formulas)."""
    if _format(path) == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            out.writerows([_inert(v) for v in row] for row in rows)
        return
    book = Workbook()
    ws = book.worksheets[0]  # the sheet a new workbook has
    ws.append(header)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            cell = ws.cell(row=r, column=c, value=value if number else ILLEGAL_CHARACTERS_RE.sub("", _text(value)))
            if not number:
                cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    with open(path, "wb") as fh:
        fh.write(buffer.getvalue())
