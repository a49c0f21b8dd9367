"""The exceptions' figures (suspension_rate, void_rate, merge_rate) on tests/test_metrics.py's
fixed history plus three cases, with hand-computed values; voided and merged cases count in
no other figure.

Added to November 2026: c3 was suspended once; c10 (和平1, reported 11-06) was voided as
reported in error; c11 (和平2, reported 11-07) was merged into c2. Cases received in November
(reported, not rejected): c1-c4, c6-c8, c10, c11 = 9.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from gridloop.engine import rollups
from gridloop.engine.model import Case, OrgUnit

from .test_metrics import HEPING1, HEPING2, TZ, drill, insert_history, november, read, utc

ADDED = {"c10": dict(grid=HEPING1, reported_at=utc(11, 6), closed_at=utc(11, 6, 5), status="voided"),
         "c11": dict(grid=HEPING2, reported_at=utc(11, 7), closed_at=utc(11, 7, 3), status="merged")}


@pytest.fixture
def history(any_db):
    ids = insert_history(any_db)
    with any_db.transaction() as s:
        units = {code: (unit_id, path) for code, unit_id, path in s.execute(select(OrgUnit.code, OrgUnit.id,
                                                                                     OrgUnit.path))}
        for name, fields in ADDED.items():
            grid_id, path = units[fields["grid"]]
            row = Case(title=name, category="garbage", source="hotline", grid_id=grid_id, org_path=path,
                       updated_at=fields["reported_at"], stage=fields["status"],
                       **{k: v for k, v in fields.items() if k != "grid"})
            s.add(row)
            s.flush()
            ids[name] = row.id
        s.execute(update(Case).where(Case.id == ids["c11"]).values(merged_into_id=ids["c2"]))
        s.execute(update(Case).where(Case.id == ids["c3"]).values(suspension_count=1))
        rollups.rebuild(s, TZ)
    return any_db, ids


@pytest.mark.parametrize("exact", [False, True])  # from the rollup, and from the case rows alone
def test_the_exception_figures_by_hand(history, exact):
    db, _ = history
    f = read(db, november(), exact=exact)["figures"]
    ratio = lambda fig: (fig["value"], fig["numerator"], fig["denominator"])  # noqa: E731
    assert ratio(f["suspension_rate"]) == (0.2, 1, 5)                  # c3 of the closed c1-c5
    assert ratio(f["void_rate"]) == (round(1 / 9, 6), 1, 9)            # c10
    assert ratio(f["merge_rate"]) == (round(1 / 9, 6), 1, 9)           # c11
    # Voided and merged cases count nowhere else: these are test_metrics.py's values.
    assert ratio(f["closure_rate"]) == (round(4 / 7, 6), 4, 7)
    assert ratio(f["on_time_closure_rate"]) == (0.6, 3, 5)
    assert ratio(f["overdue_open"]) == (round(2 / 3, 6), 2, 3)


def test_the_exception_figures_drill_down(history):
    db, _ = history
    assert drill(db, november(), "suspension_rate", "numerator") == ({"c3"}, 1)
    assert drill(db, november(), "void_rate", "numerator") == ({"c10"}, 1)
    assert drill(db, november(), "merge_rate", "numerator") == ({"c11"}, 1)
    received = {"c1", "c2", "c3", "c4", "c6", "c7", "c8", "c10", "c11"}
    assert drill(db, november(), "merge_rate", "denominator") == (received, 9)
    assert drill(db, november(), "closure_rate", "denominator") == (received - {"c10", "c11"}, 7)


def test_grouped_by_grid(history):
    db, _ = history
    groups = {g["key"]: g["figures"] for g in read(db, november(), group_by="grid", rank_by="void_rate")["groups"]}
    assert groups[HEPING1]["void_rate"]["numerator"] == 1 and groups[HEPING2]["void_rate"]["numerator"] == 0
    assert groups[HEPING2]["merge_rate"]["numerator"] == 1 and groups[HEPING2]["suspension_rate"]["numerator"] == 1
