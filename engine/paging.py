"""Paging of the lists (the inbox, its tabs, the process instances): a page's bounds and a
total that stops counting at COUNT_CAP.

Counting every row of a large list costs more than reading a page of it (counting walks index
entries: see ``inbox_plan``), so these lists count at most COUNT_CAP + 1 rows; a larger one is
``Total(COUNT_CAP, capped=True)``, an int that computes as COUNT_CAP and prints as "1000+".
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .errors import InvalidInput

COUNT_CAP = 1000
MAX_PER_PAGE = 200
MAX_PAGE = 100_000  # deeper pages are a client's bug (and offsets beyond the databases' integers)


class Total(int):
    """A count that stopped at COUNT_CAP when ``capped``: an int, printed as "1000+"."""

    capped: bool

    def __new__(cls, value: int, capped: bool = False) -> Total:
        total = super().__new__(cls, value)
        total.capped = capped
        return total

    def __str__(self) -> str:
        return f"{int(self)}+" if self.capped else int.__repr__(self)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def total(n: int) -> Total:
    """``n`` rows counted up to COUNT_CAP + 1, as a Total."""
    return Total(COUNT_CAP, capped=True) if n > COUNT_CAP else Total(n)


def count(s: Session, rows: Select[Any]) -> Total:
    """How many rows ``rows`` selects, counted up to COUNT_CAP + 1."""
    return total(s.scalar(select(func.count()).select_from(rows.limit(COUNT_CAP + 1).subquery())) or 0)


def check(page: int, per_page: int) -> None:
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": f"1..{MAX_PAGE}", "per_page": f"1..{MAX_PER_PAGE}"})
