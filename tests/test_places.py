"""Compounds and buildings, their signed QR tokens, who may print them, and a location's grid."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridloop.engine import org, places
from gridloop.engine.errors import Forbidden, InvalidInput, NotFound
from gridloop.engine.model import OrgUnit, Place
from gridloop.engine.seed import GRID_ORIGIN, GRID_SIZE, all_grids, seed_demo

SECRET = "test-secret"
COMMUNITY = "21010200101"  # 民主社区, Heping


@pytest.fixture
def seeded(any_db):
    with any_db.transaction() as s:
        seed_demo(s)
    return any_db


def test_every_demo_grid_has_a_boundary_and_a_compound_with_buildings(seeded):
    with seeded.transaction() as s:
        seed_demo(s)  # again: nothing new
    with seeded.reading() as s:
        assert s.scalar(select(func.count()).where(OrgUnit.level == "grid", OrgUnit.boundary.is_(None))) == 0
        kinds = dict(s.execute(select(Place.kind, func.count()).group_by(Place.kind)).all())
    assert kinds == {"compound": len(all_grids()), "building": 2 * len(all_grids())}


def test_a_location_finds_the_grid_whose_boundary_holds_it(seeded):
    locator = places.GridLocator()
    lon, lat = GRID_ORIGIN
    with seeded.reading() as s:
        assert locator.grid_at(s, lat + GRID_SIZE / 2, lon + GRID_SIZE / 2) == all_grids()[0]
        assert locator.grid_at(s, lat + GRID_SIZE / 2, lon + 1.5 * GRID_SIZE) == all_grids()[1]
        assert locator.grid_at(s, lat + 1.5 * GRID_SIZE, lon + GRID_SIZE / 2) == all_grids()[6]  # the next row
        assert locator.grid_at(s, 39.9, 116.4) is None  # Beijing: outside every grid
        assert locator.grid_at(s, lat - GRID_SIZE / 2, lon + GRID_SIZE / 2) is None  # just south of the first


def test_a_boundary_must_be_a_valid_polygon():
    assert places.check_boundary([[[0, 0], [1, 0], [1, 1], [0, 0]]]).area == 0.5
    for bad in ([], [[[0, 0], [1, 1]]], [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], "nope"):  # short, bow tie
        with pytest.raises(InvalidInput):
            places.check_boundary(bad)


def test_a_qr_token_names_its_place_and_cannot_be_forged(seeded):
    code = f"{all_grids()[0]}-C1-B2"
    token = places.place_token(SECRET, code)
    with seeded.reading() as s:
        place = places.place_for_token(s, SECRET, token)
        assert (place.code, place.kind, place.grid) == (code, "building", all_grids()[0])
        assert place.address.endswith("2号楼")
        other = places.place_token(SECRET, f"{all_grids()[1]}-C1")
        forged = other.split(".")[0] + "." + token.split(".")[1]  # another place with this signature
        for bad in (token + "x", token[:-2], places.place_token("another-secret", code), forged,
                    code, places.place_token(SECRET, "no-such-place")):
            with pytest.raises(NotFound):
                places.place_for_token(s, SECRET, bad)


def test_coordinators_of_the_community_or_above_may_print_its_codes(seeded):
    with seeded.transaction() as s:
        units = {u.code: u for u in s.scalars(select(OrgUnit))}
        users = {name: org.add_user(s, name, "pw", roles, org_unit=units[unit]) for name, roles, unit in (
            ("c_here", ["coordinator"], COMMUNITY), ("c_street", ["coordinator"], "210102001"),
            ("c_elsewhere", ["coordinator"], "210105001"), ("w_grid", ["grid_worker"], all_grids()[0]),
            ("sup", ["supervisor"], "2101"))}
    with seeded.reading() as s:
        for name in ("c_here", "c_street", "sup"):
            unit, found = places.community_places(s, org.actor(s, users[name].id), COMMUNITY)
            assert unit.code == COMMUNITY and len(found) == 9  # 3 grids x (compound + 2 buildings)
            assert all(p.grid.startswith(COMMUNITY) for p in found)
        for name in ("c_elsewhere", "w_grid"):
            with pytest.raises(Forbidden):
                places.community_places(s, org.actor(s, users[name].id), COMMUNITY)
        with pytest.raises(NotFound):
            places.community_places(s, None, all_grids()[0])  # a grid is not a community
