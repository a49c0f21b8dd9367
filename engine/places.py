"""Where residents report from: compounds and buildings (each in one grid), the signed
tokens their QR codes carry, and the grid a map location lies in (the grids' boundaries).

A QR token is the place's code signed with the server's secret (itsdangerous): it cannot be
guessed or altered, and it needs no table of issued codes. Changing the secret voids the
printed codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import policy
from .errors import Forbidden, InvalidInput, NotFound
from .model import OrgUnit, Place
from .org import Actor

if TYPE_CHECKING:
    from shapely import STRtree, Polygon

_SALT = "gridloop.place"
KINDS = ("compound", "building")


@dataclass(frozen=True)
class PlaceInfo:
    """A place as the public report page shows it: enough to pre-fill the report."""

    code: str
    kind: str
    name: str
    name_en: str | None
    address: str
    lat: float | None
    lon: float | None
    grid: str
    grid_name: str
    grid_name_en: str | None


def _info(place: Place) -> PlaceInfo:
    return PlaceInfo(place.code, place.kind, place.name, place.name_en, place.address, place.lat, place.lon,
                     place.grid.code, place.grid.name, place.grid.name_en)


def place_token(secret: str, code: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps(code)


def place_for_token(s: Session, secret: str, token: str) -> PlaceInfo:
    """The place a QR token names; NotFound for a token not signed by us (or a deleted place)."""
    try:
        code = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        raise NotFound("unknown QR code") from None
    if not isinstance(code, str):
        raise NotFound("unknown QR code")
    return place_by_code(s, code)


def place_by_code(s: Session, code: str) -> PlaceInfo:
    place = s.scalars(select(Place).where(Place.code == code)).first()
    if place is None:
        raise NotFound(f"place '{code}' not found")
    return _info(place)


def public_places(s: Session) -> list[PlaceInfo]:
    """The compounds a resident may pick on the plain report page (no QR code)."""
    return [_info(p) for p in s.scalars(select(Place).where(Place.kind == "compound").order_by(Place.code))]


def printable_communities(s: Session, actor: Actor) -> list[OrgUnit]:
    """The communities whose QR codes ``actor`` may print (those in her area)."""
    if not policy.may_print_qr_codes(actor):
        return []
    return list(s.scalars(select(OrgUnit).where(OrgUnit.level == "community",
                                                policy.within(OrgUnit.path, actor.org_path)).order_by(OrgUnit.code)))


def community_places(s: Session, actor: Actor | None, community: str) -> tuple[OrgUnit, list[PlaceInfo]]:
    """A community and its compounds and buildings, for printing their QR codes."""
    unit = s.scalars(select(OrgUnit).where(OrgUnit.code == community)).first()
    if unit is None or unit.level != "community":
        raise NotFound(f"community '{community}' not found")
    if not policy.may_print_qr(actor, unit.path):
        raise Forbidden(f"community '{community}' is outside your area")
    rows = s.scalars(select(Place).join(OrgUnit, OrgUnit.id == Place.grid_id)
                     .where(OrgUnit.path.startswith(unit.path, autoescape=True)).order_by(Place.code))
    return unit, [_info(p) for p in rows]


def add_place(s: Session, code: str, kind: str, name: str, grid: OrgUnit, address: str, *,
              name_en: str | None = None, parent: Place | None = None, lat: float | None = None,
              lon: float | None = None) -> Place:
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind of place '{kind}'")
    if grid.level != "grid":
        raise InvalidInput(f"'{grid.code}' is not a grid")
    place = Place(code=code, kind=kind, name=name, name_en=name_en, grid=grid, address=address,
                  parent_id=parent.id if parent else None, lat=lat, lon=lon)
    s.add(place)
    return place


# ------------------------------------------------------------------------------ location -> grid

def check_boundary(rings: list[list[list[float]]]) -> Polygon:
    """A GeoJSON polygon's rings ([[lon, lat], ...]) as a valid shapely polygon."""
    from shapely import Polygon  # shapely and numpy imported where used: they are large for every process to hold
    try:
        polygon = Polygon(rings[0], rings[1:])
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidInput(f"not a polygon: {exc}") from None
    if not polygon.is_valid or polygon.is_empty:
        raise InvalidInput("the boundary is not a valid polygon")
    return polygon


class GridLocator:
    """Grids by location: the grids' boundaries in an R-tree (STRtree), read once and read
    again when a grid's boundary changes (``forget``) or another database is asked."""

    def __init__(self) -> None:
        self._built: tuple[str, STRtree, list[str]] | None = None

    def forget(self) -> None:
        self._built = None

    def grid_at(self, s: Session, lat: float, lon: float) -> str | None:
        """The code of the grid whose boundary holds the point, None when no grid does."""
        from shapely import Point, STRtree
        url = str(s.get_bind().engine.url)
        if self._built is None or self._built[0] != url:
            rows = s.execute(select(OrgUnit.code, OrgUnit.boundary)
                             .where(OrgUnit.level == "grid", OrgUnit.boundary.is_not(None))).all()
            polygons = [check_boundary(b) for _c, b in rows]
            self._built = (url, STRtree(polygons), [c for c, _b in rows])
        _url, tree, codes = self._built
        hits = tree.query(Point(lon, lat), predicate="intersects")
        return codes[min(hits)] if len(hits) else None
