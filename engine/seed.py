"""Demo data: a slice of Shenyang's grid tree, the departments, one demo user per role and area.

Idempotent: running it again changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import org, places
from .model import Department, LiaisonArea, OrgUnit, Place, User

if TYPE_CHECKING:
    from .runtime import Runtime

DEMO_PASSWORD = "demo"

DEPARTMENTS = [
    ("emergency", "应急管理局", "Emergency management"),
    ("construction", "城乡建设局", "Urban construction"),
    ("housing", "房产局", "Housing"),
    ("police", "公安分局", "Police"),
    ("health", "卫生健康局", "Health"),
    ("water", "水务集团", "Water"),
    ("power", "供电公司", "Power supply"),
    ("gas", "燃气集团", "Gas"),
    ("heating", "供热公司", "Heating"),
    ("civil_affairs", "民政局", "Civil affairs"),
    ("urban_management", "城市管理局", "Urban management"),
    ("environment", "生态环境局", "Environment"),
]

# district -> streets -> communities; each community gets three grids.
TREE = {
    ("210102", "和平区", "Heping District"): {
        ("210102001", "南市场街道", "Nanshichang Street"): [
            ("21010200101", "民主社区", "Minzhu Community"), ("21010200102", "八经社区", "Bajing Community")],
        ("210102002", "太原街街道", "Taiyuanjie Street"): [
            ("21010200201", "北市社区", "Beishi Community"), ("21010200202", "中华社区", "Zhonghua Community")],
    },
    ("210105", "皇姑区", "Huanggu District"): {
        ("210105001", "华山街道", "Huashan Street"): [
            ("21010500101", "牡丹社区", "Mudan Community"), ("21010500102", "昆山社区", "Kunshan Community")],
        ("210105002", "三台子街道", "Santaizi Street"): [
            ("21010500201", "新乐社区", "Xinle Community"), ("21010500202", "珠江社区", "Zhujiang Community")],
    },
}
CITY = ("2101", "沈阳市", "Shenyang")
GRIDS_PER_COMMUNITY = 3


def grid_code(community: str, n: int) -> str:
    return f"{community}{n:03d}"


def _unit(s: Session, code: str, name: str, name_en: str | None, level: str, parent: OrgUnit | None) -> OrgUnit:
    unit = s.scalars(select(OrgUnit).where(OrgUnit.code == code)).first()
    if unit is None:
        unit = org.add_unit(s, code, name, level, parent, name_en=name_en)
        s.flush()
    return unit


def seed_org(s: Session) -> dict[str, OrgUnit]:
    """Create the tree and departments; return units by code."""
    units = {}
    city = units[CITY[0]] = _unit(s, *CITY, "city", None)
    for (dcode, dname, den), streets in TREE.items():
        district = units[dcode] = _unit(s, dcode, dname, den, "district", city)
        for (scode, sname, sen), communities in streets.items():
            street = units[scode] = _unit(s, scode, sname, sen, "street", district)
            for ccode, cname, cen in communities:
                community = units[ccode] = _unit(s, ccode, cname, cen, "community", street)
                for n in range(1, GRIDS_PER_COMMUNITY + 1):
                    code = grid_code(ccode, n)
                    units[code] = _unit(s, code, f"{cname}第{n}网格", f"{cen} grid {n}", "grid", community)
    for code, name, name_en in DEPARTMENTS:
        if s.scalars(select(Department).where(Department.code == code)).first() is None:
            org.add_department(s, code, name, name_en)
    s.flush()
    return units


# Demo grid areas: squares of GRID_SIZE degrees in rows of GRID_COLUMNS from GRID_ORIGIN
# (lon, lat), in the order of all_grids(); the first holds the demo reports' 41.79 N 123.40 E.
GRID_ORIGIN = (123.395, 41.785)
GRID_SIZE = 0.01
GRID_COLUMNS = 6
# Per grid: one residential compound with BUILDINGS buildings (codes GRID-C1, GRID-C1-B1, ...).
COMPOUND_NAMES = [("阳光花园", "Sunshine Garden"), ("锦绣家园", "Jinxiu Homes"), ("和谐小区", "Harmony Court")]
BUILDINGS = 2


def grid_square(index: int) -> list[list[list[float]]]:
    """The demo boundary of the index-th grid: one closed ring of [lon, lat]."""
    lon = GRID_ORIGIN[0] + (index % GRID_COLUMNS) * GRID_SIZE
    lat = GRID_ORIGIN[1] + (index // GRID_COLUMNS) * GRID_SIZE
    corners = [(lon, lat), (lon + GRID_SIZE, lat), (lon + GRID_SIZE, lat + GRID_SIZE), (lon, lat + GRID_SIZE)]
    return [[[round(x, 6), round(y, 6)] for x, y in corners + corners[:1]]]


def seed_places(s: Session, units: dict[str, OrgUnit]) -> None:
    """Grid boundaries and, per grid, a compound with its buildings (the residents' QR codes)."""
    existing = set(s.scalars(select(Place.code)))
    for index, code in enumerate(all_grids()):
        grid = units[code]
        if grid.boundary is None:
            grid.boundary = grid_square(index)
        ring = grid.boundary[0]
        lon, lat = (ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2
        name, name_en = COMPOUND_NAMES[(index % GRIDS_PER_COMMUNITY) % len(COMPOUND_NAMES)]
        community = grid.parent
        assert community is not None  # a grid is part of a community
        compound_code = f"{code}-C1"
        if compound_code in existing:
            continue
        compound = places.add_place(s, compound_code, "compound", f"{community.name}{name}", grid,
                                    f"沈阳市{community.name}{name}", name_en=f"{name_en}, {community.name_en}",
                                    lat=round(lat, 6), lon=round(lon, 6))
        s.flush()
        for n in range(1, BUILDINGS + 1):
            places.add_place(s, f"{compound_code}-B{n}", "building", f"{compound.name}{n}号楼", grid,
                             f"{compound.address}{n}号楼", name_en=f"Building {n}, {compound.name_en}",
                             parent=compound, lat=compound.lat, lon=compound.lon)
    s.flush()


def all_grids() -> list[str]:
    return [grid_code(c, n) for streets in TREE.values() for comms in streets.values()
            for c, _n, _e in comms for n in range(1, GRIDS_PER_COMMUNITY + 1)]


def demo_users() -> list[tuple[str, str, str, list[str], str | None, str | None]]:
    """(username, display name, English display name, roles, org unit code, department code)."""
    grids = all_grids()
    first_grid = grids[0]
    community, street, district = first_grid[:11], first_grid[:9], first_grid[:6]
    users: list[tuple[str, str, str, list[str], str | None, str | None]] = [
        ("acceptor1", "王芳", "Wang Fang", ["acceptor"], CITY[0], None),
        ("community1", "李娜", "Li Na", ["coordinator"], community, None),
        ("street1", "张伟", "Zhang Wei", ["coordinator"], street, None),
        ("district1", "刘洋", "Liu Yang", ["coordinator"], district, None),
        ("city1", "陈静", "Chen Jing", ["coordinator"], CITY[0], None),
        ("supervisor1", "赵敏", "Zhao Min", ["supervisor"], CITY[0], None),
        ("designer1", "孙磊", "Sun Lei", ["designer"], CITY[0], None),
        ("admin1", "钱进", "Qian Jin", ["admin"], CITY[0], None),
        ("street2", "周强", "Zhou Qiang", ["coordinator"], "210105001", None),
        ("party1", "吴杰", "Wu Jie", ["party_branch"], CITY[0], None),
    ]
    for i, code in enumerate(grids, start=1):
        users.append((f"grid{i}", f"网格员{i}号", f"Grid worker {i}", ["grid_worker"], code, None))
    for code, name, name_en in DEPARTMENTS:
        users.append((f"liaison_{code}", f"{name}专属网格员", f"{name_en} liaison", ["dept_liaison"], district, code))
    return users


def seed_users(s: Session) -> None:
    """The demo users; those that exist keep their password and get the demo names."""
    units = {u.code: u for u in s.scalars(select(OrgUnit))}
    depts = {d.code: d for d in s.scalars(select(Department))}
    existing = {u.username: u for u in s.scalars(select(User))}
    for username, display, display_en, roles, unit, dept in demo_users():
        user = existing.get(username)
        if user is None:
            org.add_user(s, username, DEMO_PASSWORD, roles, display_name=display, display_name_en=display_en,
                         org_unit=units.get(unit) if unit else None, department=depts.get(dept) if dept else None)
        elif (user.display_name, user.display_name_en) != (display, display_en):
            user.display_name, user.display_name_en = display, display_en
    s.flush()


def liaison_areas() -> list[tuple[str, str]]:
    """(liaison, street code): each department's demo liaison serves the streets of her
    district (Heping); Huanggu's grids have no liaison, so whistling there is refused."""
    district = all_grids()[0][:6]
    streets = [code for (dcode, _n, _e), sts in TREE.items() if dcode == district for code, _sn, _se in sts]
    return [(f"liaison_{code}", street) for code, _name, _en in DEPARTMENTS for street in streets]


def seed_liaison_areas(s: Session) -> None:
    units = {u.code: u.id for u in s.scalars(select(OrgUnit))}
    users = {username: user_id for username, user_id in s.execute(select(User.username, User.id))}
    bound = set(s.execute(select(LiaisonArea.user_id, LiaisonArea.org_unit_id)).all())
    for username, unit in liaison_areas():
        key = (users[username], units[unit])
        if key not in bound:
            s.add(LiaisonArea(user_id=key[0], org_unit_id=key[1], bound_at=datetime.now(timezone.utc)))
    s.flush()


def seed_demo(s: Session) -> None:
    seed_places(s, seed_org(s))
    seed_users(s)
    seed_liaison_areas(s)


RESOLVED = {"outcome": "resolved", "resolution": "已现场处置 Handled on site"}
FEEDBACK_OK = {"contacted": True, "resolved": True, "satisfaction": "satisfied", "comment": "很满意 Thanks"}

# (reporter, report fields, steps) — each step is (username, data); the case stops where its steps end.
DEMO_CASES: list[tuple[str, dict[str, str], list[tuple[str, dict[str, Any] | str]]]] = [
    ("grid1", dict(title="楼道堆放杂物 Clutter in stairwell", category="garbage", source="patrol"), []),
    ("acceptor1", dict(title="12345: 小区停电 Power cut in compound", category="power_outage", source="hotline",
                       urgency="urgent"), []),
    ("acceptor1", dict(title="夜间施工噪音 Night-time construction noise", category="noise", source="resident"),
     [("acceptor1", {"outcome": "accept"})]),
    ("grid1", dict(title="单元停电 Building without power", category="power_outage", source="patrol",
                   urgency="urgent"),
     [("grid1", {"outcome": "whistle", "department": "power"})]),
    ("grid1", dict(title="燃气异味 Smell of gas", category="gas_leak", source="patrol", urgency="emergency"),
     [("grid1", {"outcome": "whistle", "department": "gas"}), ("liaison_gas", "claim")]),
    ("grid1", dict(title="违章搭建 Illegal extension on roof", category="illegal_construction", source="patrol"),
     [("grid1", {"outcome": "escalate", "note": "需社区会商 needs consultation"})]),
    ("grid1", dict(title="电梯频繁故障 Lift keeps failing", category="lift_fault", source="patrol"),
     [("grid1", {"outcome": "escalate"}), ("community1", {"outcome": "escalate", "note": "物业不配合"})]),
    ("grid1", dict(title="管道漏水 Leaking pipe", category="water_leak", source="patrol"),
     [("grid1", {"outcome": "whistle", "department": "water"}), ("liaison_water", RESOLVED)]),
    ("acceptor1", dict(title="路面坑洼 Pothole at gate", category="road_damage", source="qr"),
     [("acceptor1", {"outcome": "accept"}), ("grid1", {"outcome": "whistle", "department": "urban_management"}),
      ("liaison_urban_management", RESOLVED), ("grid1", {"outcome": "passed"})]),
    ("grid1", dict(title="垃圾清运不及时 Bins overflowing", category="garbage", source="patrol"),
     [("grid1", RESOLVED), ("community1", {"outcome": "passed"}), ("acceptor1", FEEDBACK_OK)]),
    ("acceptor1", dict(title="重复投诉 Duplicate noise complaint", category="noise", source="hotline"),
     [("acceptor1", {"outcome": "reject", "reject_reason": "duplicate", "comment": "同GL案件"})]),
    ("grid1", dict(title="高空坠物隐患 Loose tiles on facade", category="falling_objects", source="patrol"),
     [("grid1", RESOLVED), ("community1", {"outcome": "failed", "note": "仍有松动 still loose"})]),
    ("grid2", dict(title="楼道灯不亮 Stairwell light out", category="street_light", source="patrol",
                   grid="21010200101002"), []),
]


def seed_demo_cases(runtime: Runtime) -> int:
    """Report the demo cases and walk each to its stage; skipped when cases already exist."""
    from .model import Case, Task
    with runtime.db.reading() as s:
        if s.scalar(select(Case.id).limit(1)) is not None:
            return 0
        ids = {username: user_id for username, user_id in s.execute(select(User.username, User.id))}
    for reporter, fields, steps in DEMO_CASES:
        report = {"description": fields["title"], "grid": all_grids()[0],
                  "reporter": {"name": "李先生", "phone": "13900000000"},
                  "location": {"address": "沈阳市和平区民主社区", "lat": 41.79, "lon": 123.41}, **fields}
        case = runtime.report_case(ids[reporter], report)
        for username, data in steps:
            with runtime.db.reading() as s:
                task_id = s.scalar(select(Task.id).where(Task.case_id == case.id, Task.status == "open"))
            assert task_id is not None, f"{fields['title']}: no open task for step {username}"
            if data == "claim":
                runtime.claim(ids[username], task_id)
            else:
                runtime.complete_task(ids[username], task_id, data)
    return len(DEMO_CASES)
