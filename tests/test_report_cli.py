"""`gridloop report`: the monthly XLSX of an area, over the fixed history of test_metrics."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from gridloop.cli import main
from gridloop.engine.db import Database

from .test_metrics import insert_history


@pytest.fixture
def history(tmp_path, monkeypatch):
    """The CLI's database (GRIDLOOP_DATABASE_URL) holding test_metrics' fixed history."""
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", url)
    db = Database(url)
    db.create_schema()
    insert_history(db)
    db.dispose()


def test_monthly_report_of_a_district(tmp_path, history):
    out = tmp_path / "report.xlsx"
    result = CliRunner().invoke(main, ["report", "--period", "2026-11", "--area", "210102", "--out", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["summary", "previous period", "by street", "by community", "by grid",
                               "by department", "by category", "by source"]
    header, total = [list(r) for r in book["summary"].iter_rows(values_only=True)]
    column = lambda name: header.index(name)  # noqa: E731
    assert total[column("on_time_closure_rate.denominator")] == 3  # c1 c2 c3 closed in 和平区
    assert total[column("on_time_closure_rate.numerator")] == 2
    streets = list(book["by street"].iter_rows(values_only=True))[1:]
    assert [r[0] for r in streets[1:]] == ["210102001"]  # both grids lie in 南市场街道
    previous = list(book["previous period"].iter_rows(values_only=True))[1]
    assert previous[column("close_hours.denominator")] == 0


def test_the_report_keeps_to_the_user_rights(tmp_path, history):
    out = tmp_path / "report.xlsx"
    result = CliRunner().invoke(main, ["report", "--period", "2026-11", "--area", "210102", "--user", "street2",
                                       "--out", str(out)])
    assert result.exit_code == 1 and "outside your area" in result.output and not out.exists()
    result = CliRunner().invoke(main, ["report", "--period", "2026-13", "--out", str(out)])
    assert result.exit_code == 1 and "not a month" in result.output
