"""The 12345 hotline: tickets from a CSV/XLSX export become cases through the engine's report
command (idempotently, bad rows rejected with the reason, a dry run storing nothing), and
their status, result and callback answers go back as CSV/XLSX."""
from __future__ import annotations

import csv
import os
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from gridloop.cli import main
from gridloop.engine import hotline, tables
from gridloop.engine.db import Database
from gridloop.engine.errors import Conflict, Forbidden, InvalidInput
from gridloop.engine.model import Case, Event, OutboxEvent
from gridloop.engine.runtime import WORKFLOWS_DIR, Runtime

from .loop_driver import GRID1, GRID2, LoopDriver

MAPPING_FILE = os.path.join(WORKFLOWS_DIR, "hotline", "12345.toml")
HEADER = ["工单编号", "诉求标题", "诉求内容", "诉求分类", "紧急程度", "所属网格", "事发地址", "来电人", "来电号码"]
GOOD = [["SY20260302001", "楼道堆放垃圾", "3号楼楼道堆满杂物", "环境卫生", "一般", GRID1, "民主社区3号楼", "李女士",
         "13900000001"],
        ["SY20260302002", "路灯不亮", "", "路灯不亮", "", GRID2, "民主社区南门", "", "13900000002"]]
RESOLVED = {"outcome": "resolved", "resolution": "已清理楼道杂物"}


@pytest.fixture
def loop(any_db, clock):
    return LoopDriver(Runtime(any_db, clock=clock))


@pytest.fixture
def mapping():
    return hotline.load_mapping(MAPPING_FILE)


def write_csv(path, rows, header=HEADER) -> str:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return str(path)


def write_xlsx(path, rows, header=HEADER) -> str:
    book = Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return str(path)


def run_import(loop, path, mapping, dry_run=False, user="acceptor1"):
    header, rows = tables.read(path, mapping.sheet)
    assert hotline.missing_columns(header, mapping) == []
    return hotline.import_rows(loop.rt, loop.actor(user), rows, mapping, dry_run=dry_run)  # the CLI's: a user id


def counts(loop) -> tuple[int, int, int]:
    with loop.rt.db.reading() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Case, Event, OutboxEvent))


def hotline_cases(loop) -> list[Case]:
    with loop.rt.db.reading() as s:
        return list(s.scalars(select(Case).where(Case.source == "hotline").order_by(Case.id)))


# ------------------------------------------------------------------------------ import

def test_tickets_become_cases_through_the_report_command(loop, mapping, tmp_path):
    outcomes = run_import(loop, write_csv(tmp_path / "t.csv", GOOD), mapping)
    assert [(o.line, o.ticket, o.result) for o in outcomes] == [(2, "SY20260302001", "created"),
                                                               (3, "SY20260302002", "created")]
    first, second = hotline_cases(loop)
    assert (first.external_ref, first.category, first.urgency, first.grid_id is not None) == \
        ("SY20260302001", "garbage", "normal", True)
    assert (first.reporter_name, first.reporter_phone, first.address) == ("李女士", "13900000001", "民主社区3号楼")
    assert (second.category, second.reporter_name) == ("street_light", None)
    assert second.reported_by_id == loop.ids["acceptor1"]
    assert outcomes[0].detail == first.number
    assert first.stage == "acceptance" and "case_reported" in loop.events(first.id)  # the process runs as usual


def test_a_second_run_creates_no_duplicate(loop, mapping, tmp_path):
    path = write_csv(tmp_path / "t.csv", GOOD)
    run_import(loop, path, mapping)
    before = counts(loop)
    again = run_import(loop, path, mapping)
    assert [o.result for o in again] == ["exists", "exists"]
    assert again[0].detail.startswith("hotline ticket SY20260302001 is already case GL")
    assert counts(loop) == before


def test_the_same_ticket_twice_in_one_file_is_one_case(loop, mapping, tmp_path):
    outcomes = run_import(loop, write_csv(tmp_path / "t.csv", [GOOD[0], GOOD[0]]), mapping)
    assert [(o.result, o.detail) for o in outcomes][1] == ("exists", "the same ticket as line 2")
    assert len(hotline_cases(loop)) == 1


def test_the_report_command_refuses_a_known_ticket(loop):
    report = {"title": "x", "category": "garbage", "source": "hotline", "grid": GRID1,
              "reporter": {"phone": "13900000001"}, "location": {"address": "a"}}
    loop.rt.report_case(loop.ids["acceptor1"], report, external_ref="T-1")
    with pytest.raises(Conflict, match="hotline ticket T-1 is already case GL"):
        loop.rt.report_case(loop.ids["acceptor1"], report, external_ref="T-1")
    loop.rt.report_case(loop.ids["acceptor1"], {**report, "source": "resident"}, external_ref="T-1")  # per source


BAD_ROWS = [
    (["SY3", "标题", "", "外星人入侵", "一般", GRID1, "地址", "", "13900000003"],
     "诉求分类: '外星人入侵' is not in the mapping's [values.category]"),
    (["SY4", "", "", "环境卫生", "一般", GRID1, "地址", "", "13900000004"], "诉求标题: empty"),
    (["", "标题", "", "环境卫生", "一般", GRID1, "地址", "", "13900000005"], "工单编号: empty"),
    (["SY6", "标题", "", "环境卫生", "一般", GRID1, "地址", "", "call me"], "来电号码: "),
    (["SY7", "标题", "", "环境卫生", "一般", "99999999", "地址", "", "13900000007"], "grid '99999999'"),
    (["SY8", "标题", "", "环境卫生", "十万火急", GRID1, "地址", "", "13900000008"], "紧急程度: '十万火急' is not in"),
    (["SY9", "标题", "", "环境卫生", "一般", GRID1, "", "", "13900000009"], "事发地址: "),
    (["SY10", "标题", "", "环境卫生", "一般", GRID1, "地址", "", ""], "来电号码: "),
    (["S" * 65, "标题", "", "环境卫生", "一般", GRID1, "地址", "", "13900000011"], "工单编号: longer than 64"),
    (["SY12", "标" * 101, "", "环境卫生", "一般", GRID1, "地址", "", "13900000012"], "诉求标题: "),
    (["SY13", "标题", "", "环境卫生", "一般", GRID1, "地址", "", "13900000013", "stray"], "more cells than the header"),
    (["SY14", "标题\x00", "", "环境卫生", "一般", GRID1, "地址", "", "13900000014"], "诉求标题: "),
]


@pytest.mark.parametrize("write", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_malformed_rows_are_rejected_with_the_column_and_the_rest_imported(loop, mapping, tmp_path, write):
    rows = [GOOD[0]] + [row for row, _ in BAD_ROWS if write is write_csv or "\x00" not in "".join(row)] + [GOOD[1]]
    ext = "csv" if write is write_csv else "xlsx"
    outcomes = run_import(loop, write(tmp_path / f"t.{ext}", rows), mapping)
    assert [o.result for o in outcomes] == ["created"] + ["rejected"] * (len(rows) - 2) + ["created"]
    for outcome, (_, reason) in zip(outcomes[1:-1], BAD_ROWS, strict=False):
        assert reason in outcome.detail, (outcome, reason)
    assert [c.external_ref for c in hotline_cases(loop)] == ["SY20260302001", "SY20260302002"]


def test_xlsx_numbers_are_read_as_the_text_they_show(loop, mapping, tmp_path):
    row = [20260302001, "标题", "", "环境卫生", "一般", int(GRID1), "地址", "", 13900000001]
    [outcome] = run_import(loop, write_xlsx(tmp_path / "t.xlsx", [row]), mapping)
    assert (outcome.ticket, outcome.result) == ("20260302001", "created")
    assert hotline_cases(loop)[0].reporter_phone == "13900000001"


def test_a_dry_run_checks_every_row_and_stores_nothing(loop, mapping, tmp_path):
    run_import(loop, write_csv(tmp_path / "first.csv", [GOOD[0]]), mapping)
    before = counts(loop)
    path = write_csv(tmp_path / "t.csv", GOOD + [BAD_ROWS[0][0]])
    outcomes = run_import(loop, path, mapping, dry_run=True)
    assert [o.result for o in outcomes] == ["exists", "valid", "rejected"]
    assert counts(loop) == before


def test_an_importer_outside_the_area_gets_every_row_rejected(loop, mapping, tmp_path):
    outcomes = run_import(loop, write_csv(tmp_path / "t.csv", GOOD), mapping, user="grid1")
    assert [o.result for o in outcomes] == ["created", "rejected"]  # grid1 may report only in her grid
    assert "outside your area" in outcomes[1].detail


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 not really a zip", "not a readable XLSX workbook"),
    (b"", "not a readable XLSX workbook"),
])
def test_a_file_that_is_not_an_xlsx_workbook_is_refused(tmp_path, content, message):
    path = tmp_path / "t.xlsx"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        tables.read(str(path))


@pytest.mark.parametrize("content, message", [
    ("工单编号,标题\n1,2\n".encode("gbk"), "not UTF-8 text"),
    (b"", "empty"),
    (b'"a,b\n"c,d', "malformed CSV"),
    (b"a,a\n1,2\n", "names a column twice"),
])
def test_a_malformed_csv_file_is_refused(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        tables.read(str(path))


def test_other_extensions_and_missing_sheets_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="not a .csv or .xlsx file"):
        tables.read(str(tmp_path / "t.xls"))
    with pytest.raises(InvalidInput, match="no sheet '工单'"):
        tables.read(write_xlsx(tmp_path / "t.xlsx", GOOD), sheet="工单")


@pytest.mark.parametrize("text, message", [
    ("[columns\n", "not valid TOML"),
    ('[columns]\nticket = "A"\n', "columns: 'title' is a required property"),
    ('[columns]\nticket = "A"\ntitle = "B"\ncategory = "C"\ngrid = "D"\nweather = "E"\n', "Additional properties"),
    ('[columns]\nticket = "A"\ntitle = "B"\ncategory = "C"\ngrid = "D"\n[values.category]\nx = 1\n',
     "values.category.x: 1 is not of type 'string'"),
])
def test_a_bad_mapping_file_is_refused_with_where(tmp_path, text, message):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("(", r"\(")):
        hotline.load_mapping(str(path))


def test_concurrent_imports_of_one_file_create_each_case_once(pg_db, clock, mapping, tmp_path):
    loop = LoopDriver(Runtime(pg_db, clock=clock))
    rows = [[f"SY{i}", "标题", "", "环境卫生", "一般", GRID1, "地址", "", "13900000001"] for i in range(6)]
    path = write_csv(tmp_path / "t.csv", rows)
    barrier, results = threading.Barrier(3), []

    def work():
        barrier.wait()
        results.extend(run_import(loop, path, mapping))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(o.result for o in results) == ["created"] * 6 + ["exists"] * 12
    assert sorted(c.external_ref for c in hotline_cases(loop)) == [f"SY{i}" for i in range(6)]


# ------------------------------------------------------------------------------ export

def close_with_callback(loop, case_id, comment="师傅很及时"):
    loop.step(case_id, "acceptor1", {"outcome": "accept"}, stage="acceptance")
    loop.step(case_id, "grid1", RESOLVED, stage="grid_handling")
    loop.step(case_id, "community1", {"outcome": "passed"}, stage="verification")
    loop.step(case_id, "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "satisfied",
                                     "comment": comment}, stage="feedback")


def test_the_export_gives_back_status_result_and_callback(loop, mapping, tmp_path, clock):
    start = clock.now()
    run_import(loop, write_csv(tmp_path / "t.csv", GOOD), mapping)
    first, second = hotline_cases(loop)
    close_with_callback(loop, first.id, "=HYPERLINK(\"http://evil.example\")")
    loop.report("grid1")  # not from the hotline: not exported
    with loop.rt.db.reading() as s:
        header, rows = hotline.export_rows(s, loop.actor("acceptor1"), start, mapping)
    assert header[:6] == ["工单编号", "网格案件编号", "办理状态", "当前环节", "办理结果", "是否联系"]
    by_ticket = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_ticket) == {"SY20260302001", "SY20260302002"}
    done = by_ticket["SY20260302001"]
    assert (done["办理状态"], done["当前环节"], done["办理结果"]) == ("已办结", "已结案", "已清理楼道杂物")
    assert (done["是否联系"], done["是否解决"], done["满意度"]) == ("是", "是", "满意")
    assert done["办结时间"] == loop.case(first.id).closed_at
    waiting = by_ticket["SY20260302002"]
    assert [waiting[k] for k in ("办理状态", "当前环节", "办理结果", "满意度")] == ["办理中", "受理", "", ""]

    tables.write(str(tmp_path / "out.csv"), header, rows)
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as fh:
        written = list(csv.reader(fh))
    assert written[0] == header and written[1][header.index("回访意见")] == "'=HYPERLINK(\"http://evil.example\")"
    tables.write(str(tmp_path / "out.xlsx"), header, rows)
    sheet = load_workbook(tmp_path / "out.xlsx").active
    comment = sheet.cell(row=2, column=header.index("回访意见") + 1)
    assert (comment.value, comment.data_type) == ("=HYPERLINK(\"http://evil.example\")", "s")  # text, not a formula

    with loop.rt.db.reading() as s:  # only what changed since
        assert hotline.export_rows(s, None, clock.now() + timedelta(seconds=1), mapping)[1] == []


def test_only_acceptors_and_supervisors_export_and_only_their_area(loop, mapping, tmp_path, clock):
    run_import(loop, write_csv(tmp_path / "t.csv", GOOD), mapping)
    with loop.rt.db.reading() as s:
        with pytest.raises(Forbidden):
            hotline.export_rows(s, loop.actor("grid1"), clock.now() - timedelta(days=1), mapping)
        assert len(hotline.export_rows(s, loop.actor("supervisor1"), clock.now() - timedelta(days=1), mapping)[1]) == 2


# ------------------------------------------------------------------------------ command line

def test_the_cli_imports_with_a_reject_file_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite")

    def cli(*args):
        return CliRunner().invoke(main, list(args))

    assert cli("seed-demo").exit_code == 0 and cli("deploy").exit_code == 0
    tickets = write_csv(tmp_path / "tickets.csv", GOOD + [BAD_ROWS[0][0]])
    dry = cli("import", "hotline", tickets, "--mapping", MAPPING_FILE, "--user", "acceptor1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: 2 valid, 0 already imported, 1 rejected" in dry.output
    with Database(os.environ["GRIDLOOP_DATABASE_URL"]).reading() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0

    done = cli("import", "hotline", tickets, "--mapping", MAPPING_FILE, "--user", "acceptor1")
    assert "created 2, 0 already imported, 1 rejected" in done.output
    rejects = tmp_path / "tickets.rejects.csv"
    with open(rejects, encoding="utf-8-sig", newline="") as fh:
        rejected = list(csv.reader(fh))
    assert rejected[0] == ["line", "error"] + HEADER and rejected[1][:2] == ["4", BAD_ROWS[0][1]]
    assert rejected[1][2:] == BAD_ROWS[0][0]
    again = cli("import", "hotline", tickets, "--mapping", MAPPING_FILE, "--user", "acceptor1")
    assert "created 0, 2 already imported, 1 rejected" in again.output

    out = tmp_path / "results.xlsx"
    exported = cli("export", "hotline", "--since", "2020-01-01", "--mapping", MAPPING_FILE, "--out", str(out))
    assert exported.exit_code == 0 and "wrote 2 cases" in exported.output
    assert [c.value for c in load_workbook(out).active[2]][:3][0] == "SY20260302001"
    refused = cli("export", "hotline", "--since", "2020-01-01", "--mapping", MAPPING_FILE, "--out", str(out),
                  "--user", "grid1")
    assert refused.exit_code == 1 and "only acceptors and supervisors" in refused.output

    missing = write_csv(tmp_path / "missing.csv", [r[:3] for r in GOOD], header=HEADER[:3])
    bad = cli("import", "hotline", missing, "--mapping", MAPPING_FILE, "--user", "acceptor1")
    assert bad.exit_code == 1 and "columns missing: 诉求分类, 紧急程度, 所属网格" in bad.output
    nobody = cli("import", "hotline", tickets, "--mapping", MAPPING_FILE, "--user", "nobody")
    assert nobody.exit_code != 0 and "no user 'nobody'" in nobody.output
