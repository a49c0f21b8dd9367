"""The figures as files: CSV and XLSX (openpyxl) of :func:`engine.metrics.table`, and the
monthly report (figures of the area, then per level below it, per department, per category)."""
from __future__ import annotations

import csv
import io
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .metrics import Filters, figures, table
from .org import LEVELS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def to_csv(result: dict[str, Any]) -> str:
    header, rows = table(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def to_xlsx(sheets: Iterable[tuple[str, dict[str, Any]]], progress: Callable[[], None] | None = None) -> bytes:
    """One worksheet per (title, figures result); empty cells for missing values."""
    from openpyxl import Workbook  # imported on use: large, and only exports need it
    book = Workbook()
    book.remove(book.worksheets[0])  # the empty sheet a new workbook has
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


def monthly(s: Session, f: Filters, area_level: str | None, weights: dict[str, float] | None = None
            ) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """The monthly report's sheets, each computed when called: the figures of the area (with
    the previous month's), then per org level below the area, per department, category
    and source."""
    below = LEVELS[LEVELS.index(area_level) + 1:] if area_level in LEVELS else LEVELS[1:]
    sheets: list[tuple[str, Callable[[], dict[str, Any]]]] = [("summary", lambda: figures(s, f, weights=weights)),
              ("previous period", lambda: figures(s, f.previous(), weights=weights))]
    for grouping in (*below, "department", "category", "source"):
        sheets.append((f"by {grouping}", partial(figures, s, f, group_by=grouping, weights=weights)))
    return sheets
