"""The bureau's figures: GET /metrics (JSON, CSV or XLSX) and the cases behind a number."""
from __future__ import annotations

from flask import Response
from marshmallow import Schema, fields, validate

from gridloop.engine import metrics, queries, report

from ..services import now, reading, runtime
from .core import ApiBlueprint, actor, errors
from .schemas import CaseSummary, PagingQuery, _page_of

blp = ApiBlueprint("Metrics", __name__, url_prefix="/api/v1", description="The bureau's figures")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MetricsFilter(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    area = fields.String()
    department = fields.String()
    category = fields.String()
    source = fields.String()


class MetricsQuery(MetricsFilter):
    group_by = fields.String(validate=validate.OneOf(metrics.GROUPINGS))
    rank_by = fields.String(load_default="composite_score", validate=validate.OneOf(metrics.FIGURES))
    weights = fields.String()
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class FigureCasesQuery(MetricsFilter, PagingQuery):
    figure = fields.String(required=True, validate=validate.OneOf(metrics.FIGURES))
    part = fields.String(load_default="denominator", validate=validate.OneOf(["numerator", "denominator"]))


def _filters(s, query) -> metrics.Filters:
    return metrics.request(s, actor(), tz=runtime().calendar.tz, now=now(), first=query.get("from_"),
                           last=query.get("to"), area=query.get("area"), department=query.get("department"),
                           category=query.get("category"), source=query.get("source"))


@blp.route("/metrics")
@blp.arguments(MetricsQuery, location="query")
@blp.response(200, description="the figures as JSON, or a CSV or XLSX file with ``format``")
@errors(403)
def figures(query):
    """The figures of a period, area, department, category and source (value, numerator,
    denominator each), per group with ``group_by``, ranked best first by ``rank_by``;
    ``format=csv|xlsx`` for the same table as a file."""
    weights = metrics.weights_from(query.get("weights"))
    with reading() as s:
        result = metrics.figures(s, _filters(s, query), group_by=query.get("group_by"),
                                 rank_by=query["rank_by"], weights=weights)
    if query["format"] == "csv":
        return Response(report.to_csv(result), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=figures.csv"})
    if query["format"] == "xlsx":
        return Response(report.to_xlsx([("figures", result)]), mimetype=XLSX,
                        headers={"Content-Disposition": "attachment; filename=figures.xlsx"})
    return result


@blp.route("/metrics/cases")
@blp.arguments(FigureCasesQuery, location="query")
@blp.response(200, _page_of(CaseSummary, "FigureCasePage"))
@errors(403)
def figure_cases(query):
    """The cases behind one number: the figure's numerator or denominator (same filters)."""
    with reading() as s:
        rows, total = metrics.figure_cases(s, _filters(s, query), query["figure"], query["part"],
                                           page=query["page"], per_page=query["per_page"])
        items = [queries.case_summary(c) for c in rows]
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}
