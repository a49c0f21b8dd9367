"""The figures as files: CSV and XLSX (openpyxl) of :func:`engine.metrics.table`, and the
monthly report (figures of the area, then per level below it, per department, per category)."""
from __future__ import annotations

import csv
import io
from typing import Any, Callable, Iterable

from openpyxl import Workbook

from .metrics import table


def to_csv(result: dict[str, Any]) -> str:
    header, rows = table(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def to_xlsx(sheets: Iterable[tuple[str, dict[str, Any]]], progress: Callable[[], None] | None = None) -> bytes:
    """One worksheet per (title, figures result); empty cells for missing values."""
    book = Workbook()
    book.remove(book.active)
    for title, result in sheets:
        sheet = book.create_sheet(title[:31])
        header, rows = table(result)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "D2"
        if progress:
            progress()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
