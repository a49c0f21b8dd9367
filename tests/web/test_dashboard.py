"""The figures page: headline figures with links to their cases, the change against the
previous period, SVG charts, zh-CN and English, and who may open it."""
from __future__ import annotations

import html
import re

import pytest

from ..test_metrics import NOW, insert_history

EN = {"Accept-Language": "en"}


@pytest.fixture
def history(world, clock):
    clock.set(NOW)
    insert_history(world.db)


def test_dashboard_numbers_link_to_their_cases(history, as_user):
    page = as_user("supervisor1").get("/dashboard?from=2026-11-01&to=2026-11-30", headers=EN).get_data(True)
    assert "On-time closure rate" in page and "<svg" in page and "Heping District" in page
    assert "60.0%" in page and "75.0%" in page  # on-time 3/5, response 3/4
    links = {html.unescape(u) for u in re.findall(r'href="(/dashboard/cases\?[^"]+)"', page)}
    rework = next(u for u in links if "figure=rework_rate" in u and "part=numerator" in u)
    cases = as_user("supervisor1").get(rework, headers=EN).get_data(True)
    assert ">c2<" in cases and ">c1<" not in cases
    by_district = next(u for u in links if "figure=on_time_closure_rate" in u and "area=210105" in u)
    cases = as_user("supervisor1").get(by_district).get_data(True)
    assert ">c4<" in cases and ">c5<" in cases and ">c1<" not in cases
    assert "按期结案率" in cases  # Chinese by default


def test_the_change_against_the_previous_period(history, as_user):
    page = as_user("supervisor1").get("/dashboard?from=2026-11-01&to=2026-11-30&group_by=grid",
                                      headers=EN).get_data(True)
    closure = re.search(r"Closure rate</th>\s*<td>.*?</td>\s*<td>([^<]*)</td>", page, re.S).group(1)
    assert closure.strip() == "+57.1 pp"  # 4/7 in November, 0/1 in October


def test_who_may_open_the_dashboard(history, as_user):
    as_user("grid1").get("/dashboard", status=403)
    page = as_user("street2").get("/dashboard?from=2026-11-01&to=2026-11-30", headers=EN).get_data(True)
    assert "Mudan Community" in page and "Heping" not in page
    as_user("street2").get("/dashboard?area=210102", status=403)
    as_user("supervisor1").get("/dashboard?from=2026-11-99", status=400)
    as_user("supervisor1").get("/dashboard/cases?figure=nothing", status=400)


def test_the_case_list_page_narrows_to_a_district_street_or_community_department_source_period_overdue(
        history, as_user):
    def titles(query: str, user: str = "supervisor1") -> list[str]:
        page = as_user(user).get(f"/cases?{query}", headers=EN).get_data(True)
        return sorted(set(re.findall(r">(c\d)<", page)))
    page = as_user("supervisor1").get("/cases", headers=EN).get_data(True)
    assert '<option value="210105">' in page and "(District)" in page and "(Street)" in page  # the area's units
    assert '<option value="power">' in page  # departments by name
    assert titles("area=210105") == ["c4", "c5", "c8"]
    assert titles("area=21010200101") == ["c1", "c2", "c3", "c6", "c7", "c9"]
    assert titles("department=power") == ["c1"] and titles("source=resident") == ["c5", "c9"]
    assert titles("from=2026-10-01&to=2026-10-31") == ["c5"]
    assert titles("overdue=1") == ["c7", "c8"] and titles("overdue=1&area=210105") == ["c8"]
    street2 = as_user("street2").get("/cases", headers=EN).get_data(True)
    assert '<option value="210105">' not in street2 and "Mudan Community" in street2  # only her own units
    assert titles("area=210102", "street2") == []  # another district: none of hers
