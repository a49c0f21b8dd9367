"""GET /api/v1/metrics (JSON, CSV, XLSX) and /metrics/cases over the fixed history of
tests/test_metrics.py, as the users who may and may not read figures."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from ..test_metrics import NOW, insert_history

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def figures_api(world, clock, api):
    clock.set(NOW)
    insert_history(world.db)
    return api


def test_figures_and_groups(figures_api):
    body = figures_api.get("/metrics", "supervisor1", query_string={**NOVEMBER, "group_by": "district"})
    assert body["figures"]["response_rate"] == {"value": 0.75, "numerator": 3, "denominator": 4}
    assert body["figures"]["close_hours"]["p90"] == 216.0
    assert [(g["key"], g["rank"]) for g in body["groups"]] == [("210102", 1), ("210105", 2)]
    body = figures_api.get("/metrics", "supervisor1", query_string={**NOVEMBER, "area": "210105", "source": "patrol"})
    assert body["figures"]["close_hours"]["denominator"] == 1 and body["groups"] == []  # c4


def test_the_cases_behind_a_number(figures_api):
    query = {**NOVEMBER, "figure": "on_time_closure_rate", "part": "numerator"}
    body = figures_api.get("/metrics/cases", "supervisor1", query_string=query)
    assert body["total"] == 3 and sorted(c["title"] for c in body["items"]) == ["c1", "c3", "c4"]
    assert all(c["due_at"] for c in body["items"])
    body = figures_api.get("/metrics/cases", "supervisor1", query_string={**query, "per_page": 2, "page": 2})
    assert body["total"] == 3 and len(body["items"]) == 1
    figures_api.get("/metrics/cases", "supervisor1", status=400,
                    query_string={**NOVEMBER, "figure": "close_hours", "part": "numerator"})


def test_who_may_read_figures(figures_api):
    body = figures_api.get("/metrics", "street2", query_string=NOVEMBER)  # 华山街道: c4 c5 c8
    assert body["figures"]["close_hours"]["denominator"] == 2
    figures_api.get("/metrics", "street2", query_string={**NOVEMBER, "area": "210102"}, status=403)
    body = figures_api.get("/metrics", "liaison_power", query_string=NOVEMBER)
    assert body["figures"]["report_in_minutes"] == {"value": 30.0, "p90": 30.0, "numerator": None, "denominator": 1}
    figures_api.get("/metrics", "liaison_power", query_string={**NOVEMBER, "department": "gas"}, status=403)
    figures_api.get("/metrics/cases", "liaison_gas", status=200,
                    query_string={**NOVEMBER, "figure": "return_rate", "part": "numerator"})
    for user in ("grid1", "acceptor1", "designer1"):
        error = figures_api.get("/metrics", user, query_string=NOVEMBER, status=403)["error"]
        assert error["code"] == "forbidden"
    figures_api.get("/metrics", query_string=NOVEMBER, status=401)


@pytest.mark.parametrize("query, field", [
    ({"from": "2026-11-31"}, "from"), ({"to": "yesterday"}, "to"), ({"group_by": "planet"}, "group_by"),
    ({"area": "nowhere"}, "area"), ({"weights": "1,1,1"}, "weights"), ({"format": "pdf"}, "format"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "to"), ({"rank_by": "luck"}, "rank_by")])
def test_bad_queries_name_the_field(figures_api, query, field):
    error = figures_api.get("/metrics", "supervisor1", query_string=query, status=400)["error"]
    assert field in error["fields"]


def test_csv_and_xlsx_hold_the_json_figures(figures_api):
    query = {**NOVEMBER, "group_by": "grid"}
    body = figures_api.get("/metrics", "supervisor1", query_string=query)
    figures_api.get("/metrics", "supervisor1", query_string={**query, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(figures_api.last.data)).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    figures_api.get("/metrics", "supervisor1", query_string={**query, "format": "csv"})
    csv_header, *csv_rows = list(csv.reader(io.StringIO(figures_api.last.get_data(True))))
    assert csv_header == header and len(rows) == len(csv_rows) == 1 + len(body["groups"])
    tables = [(body["figures"], rows[0], csv_rows[0])] + [
        (g["figures"], row, csv_row) for g, row, csv_row in zip(body["groups"], rows[1:], csv_rows[1:], strict=True)]
    assert [row[0] for row in rows[1:]] == [g["key"] for g in body["groups"]]
    for figures, row, csv_row in tables:
        for name, fig in figures.items():
            for part in ("value", "numerator", "denominator"):
                column = header.index(f"{name}.{part}")
                assert row[column] == fig[part], (name, part)
                assert csv_row[column] == ("" if fig[part] is None else str(fig[part])), (name, part)


def test_case_list_filters(figures_api):
    def titles(**query):
        body = figures_api.get("/cases", "supervisor1", query_string={"per_page": 200, **query})
        return sorted(c["title"] for c in body["items"])
    assert titles(area="210105") == ["c4", "c5", "c8"]           # a district's subtree
    assert titles(area="21010200101") == ["c1", "c2", "c3", "c6", "c7", "c9"]  # a community's
    assert titles(department="power") == ["c1"]
    assert titles(source="resident") == ["c5", "c9"]
    assert titles(**{"from": "2026-11-28"}) == ["c6", "c8"]
    assert titles(**{"from": "2026-10-01", "to": "2026-10-31"}) == ["c5"]
    assert titles(overdue="true") == ["c7", "c8"]                # open past due on Dec 10
    assert titles(overdue="true", area="210105") == ["c8"]
    figures_api.get("/cases", "supervisor1", query_string={"area": "nowhere"}, status=400)
    figures_api.get("/cases", "supervisor1", query_string={"to": "soon"}, status=400)
