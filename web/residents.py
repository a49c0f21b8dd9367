"""The residents' pages, no account needed: report from a QR code (``/r/<token>``) or the
plain public page (``/r``), follow the case by its status link (``/s/<token>``); and the
coordinators' printable QR codes of a community."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from gridloop.engine import photos, places, qrsheet, residents
from gridloop.engine.errors import InvalidInput, NotFound

from . import photos as page_photos
from .i18n import pick, t
from .pages import current_actor, login_required
from .security import external_url
from .services import reading, runtime

bp = Blueprint("residents", __name__)

# The start form's fields (dotted) shown on the public page under another name.
FIELD_OF = {"reporter.phone": "phone", "reporter.name": "name", "reporter": "phone", "description": "description",
            "location.address": "detail", "category": "category", "photos": "photos"}


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def qr_url(code: str) -> str:
    """What a place's QR code holds: the absolute link of its report page."""
    return external_url("residents.qr_report", token=places.place_token(_secret(), code))


def _answer() -> residents.PublicReport:
    form = request.form
    text = {name: form.get(name, "").strip() or None for name in ("description", "name", "phone", "detail")}
    return residents.PublicReport(category=form.get("category", ""), description=text["description"] or "",
                                  name=text["name"], phone=text["phone"], detail=text["detail"])


def _form_errors(exc: InvalidInput) -> dict[str, str]:
    if "photos" in (exc.fields or {}):  # in the page's language
        return page_photos.errors_of(exc)
    return {FIELD_OF.get(name, "form"): message for name, message in (exc.fields or {"form": exc.message}).items()}


def _report_page(place: places.PlaceInfo | None, source: str):
    with reading() as s:
        choices = places.public_places(s) if place is None else []
    categories = runtime().categories()
    if request.method == "POST":
        try:
            if place is None:
                with reading() as s:
                    place = places.place_by_code(s, request.form.get("place", ""))
            case = residents.report(runtime(), place, _answer(), source, page_photos.uploads())
        except NotFound:  # a compound not on the list
            errors = {"place": t("public.choose_place")}
        except InvalidInput as exc:
            errors = _form_errors(exc)
        else:
            flash(t("public.reported", number=case.number), "success")
            return redirect(url_for(".status", token=case.status_token))
        return render_template("public_report.html", place=place if source == "qr" else None, choices=choices,
                               categories=categories, values=request.form, errors=errors,
                               max_photos=photos.PUBLIC_MAX), 400
    return render_template("public_report.html", place=place, choices=choices, categories=categories,
                           values={}, errors={}, max_photos=photos.PUBLIC_MAX)


@bp.route("/r", methods=["GET", "POST"])
def public_report():
    """The plain public page: the resident picks her compound."""
    return _report_page(None, "resident")


@bp.route("/r/<token>", methods=["GET", "POST"])
def qr_report(token: str):
    """A place's QR code leads here: place and grid are filled in from the signed token."""
    with reading() as s:
        place = places.place_for_token(s, _secret(), token)
    return _report_page(place, "qr")


@bp.get("/s/<token>")
def status(token: str):
    try:
        with reading() as s:
            view = residents.status(s, token)
    except NotFound:
        return render_template("status.html", case=None), 404
    feedback = url_for("feedback.page", token=view["feedback_token"]) if view["feedback_token"] else None
    return render_template("status.html", case=view, status_url=external_url("residents.status", token=token),
                           feedback_url=feedback)


def _community(code: str):
    with reading() as s:
        return places.community_places(s, current_actor(), code)


@bp.get("/places/qr")
@login_required
def qr_communities():
    """The communities whose codes she may print."""
    with reading() as s:
        units = [(u.code, u.name, u.name_en) for u in places.printable_communities(s, current_actor())]
    return render_template("qr_communities.html", active="qr", units=units)


@bp.get("/places/<community>/qr")
@login_required
def qr_codes(community: str):
    """The community's QR codes on one printable page, and the sheet as PNG or PDF."""
    unit, found = _community(community)
    codes = [(p, qr_url(p.code)) for p in found]
    return render_template("qr_codes.html", active="qr", unit=unit, codes=codes, svg=_svg)


@bp.get("/places/<community>/qr.<fmt>")
@login_required
def qr_sheet(community: str, fmt: str):
    if fmt not in qrsheet.FORMATS:
        raise NotFound(f"no sheet of format '{fmt}'")
    _unit, found = _community(community)
    data = qrsheet.sheet([(qr_url(p.code), caption(p)) for p in found], fmt)
    mimetype = "application/pdf" if fmt == "pdf" else "image/png"
    return current_app.response_class(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="qr-{community}.{fmt}"'})


def caption(place: places.PlaceInfo) -> str:
    """A sheet's caption of a code: its place code and English name (the sheet's font has no CJK)."""
    return f"{place.code}\n{place.name_en or ''}"


def _svg(url: str) -> str:
    return qrsheet.svg(url, pick("扫码上报", "Scan to report"))
