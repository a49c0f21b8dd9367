"""The figures page (统计): headline figures with the change against the previous period,
charts, figures per area or department; every number links to the cases behind it."""
from __future__ import annotations

from datetime import date, timedelta
from math import ceil

from flask import Blueprint, render_template, request, url_for

from gridloop.engine import metrics, queries
from gridloop.engine.errors import InvalidInput

from . import charts
from .i18n import pick, t
from .pages import current_actor, login_required
from .services import now, reading, runtime

bp = Blueprint("dashboard", __name__)
FILTERS = ("area", "department", "category", "source")
TREND_MONTHS = 6
PER_PAGE = 20


def _date(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date", fields={name: "YYYY-MM-DD"}) from None


def _query() -> dict:
    return {"first": _date("from"), "last": _date("to"),
            **{name: request.args.get(name, "").strip() or None for name in FILTERS}}


def _months_before(f: metrics.Filters, tz) -> list[tuple[str, metrics.Filters]]:
    """The calendar months up to the period's last one, oldest first."""
    last = (f.end.astimezone(tz).date().replace(day=1))
    result = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        year, month = divmod(last.year * 12 + last.month - 1 - back, 12)
        first, final = metrics.month(f"{year:04d}-{month + 1:02d}")
        start, end, asof = metrics.period(first, final, tz, f.asof)
        result.append((f"{year % 100:02d}-{month + 1:02d}", metrics.Filters(
            start, end, asof, f.area_path, f.department, f.category, f.source, tz)))
    return result


@bp.get("/dashboard")
@login_required
def index():
    query, tz = _query(), runtime().calendar.tz
    group_by = request.args.get("group_by") or None
    with reading() as s:
        f = metrics.request(s, current_actor(), tz=tz, now=now(), **query)
        group_by = group_by or metrics.grouping_below(s, f)
        current = metrics.figures(s, f, group_by=group_by)
        previous = metrics.figures(s, f.previous())["figures"]
        trend = [(label, metrics.figures(s, month)["figures"]) for label, month in _months_before(f, tz)]
    last_day = (f.end - timedelta(microseconds=1)).astimezone(tz).date()
    args = {"from": f.start.astimezone(tz).date().isoformat(), "to": last_day.isoformat(),
            **{k: v for k, v in query.items() if k in FILTERS and v}}

    def cases_url(figure: str, part: str, **narrower) -> str:
        return url_for(".cases", figure=figure, part=part, **{**args, **narrower})

    group_filter = "area" if group_by in metrics.LEVELS else group_by
    rank_chart = charts.bars(
        [(pick(g["name"], g["name_en"]) or str(g["key"]), g["figures"]["composite_score"]["value"],
          cases_url("composite_score", "denominator", **{group_filter: g["key"]}) if g["key"] else None)
         for g in current["groups"]], title=t("dashboard.chart.groups"))
    trend_chart = charts.series([label for label, _ in trend],
                                [fig["close_hours"]["denominator"] for _, fig in trend],
                                {t(f"figure.{name}"): [fig[name]["value"] for _, fig in trend]
                                 for name in ("on_time_closure_rate", "satisfaction_rate")},
                                title=t("dashboard.chart.trend"))
    bands = current["figures"]["overdue_open"]["bands"]
    backlog_chart = charts.bars([(t(f"band.{name}"), count, None) for name, count in bands.items()],
                                percent=False, title=t("dashboard.chart.backlog"))
    return render_template("dashboard.html", active="dashboard", figures=current["figures"], previous=previous,
                           groups=current["groups"], group_by=group_by, args=args, cases_url=cases_url,
                           groupings=metrics.GROUPINGS, names=metrics.FIGURES, rank_chart=rank_chart,
                           trend_chart=trend_chart, backlog_chart=backlog_chart, group_filter=group_filter)


@bp.get("/dashboard/cases")
@login_required
def cases():
    figure, part = request.args.get("figure", ""), request.args.get("part", "denominator")
    page = request.args.get("page", 1, type=int)
    with reading() as s:
        f = metrics.request(s, current_actor(), tz=runtime().calendar.tz, now=now(), **_query())
        rows, total = metrics.figure_cases(s, f, figure, part, page=page, per_page=PER_PAGE)
        items = [queries.case_summary(c) for c in rows]
    return render_template("figure_cases.html", active="dashboard", items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), figure=figure, part=part,
                           back_url=url_for(".index", **{k: v for k, v in request.args.items()
                                                        if k not in ("figure", "part", "page")}))
