"""Evidence: photos of the report, the resolution and the verification through the API and the
pages; hostile files refused, metadata stripped but when and where kept, rights enforced."""
from __future__ import annotations

import io
import os
import re
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from gridloop.engine import photostore, places
from gridloop.engine.model import Case, Photo
from gridloop.engine.seed import all_grids

from .conftest import RESOLVED, Api, Browser, make_app

SERIAL = "CAMSERIAL-0042"


def jpeg(size=(800, 600), *, exif: bool = True, color="red", comment: bytes | None = None) -> bytes:
    """A camera-like JPEG: maker, model, serial number, time taken and GPS in its EXIF."""
    image = Image.new("RGB", size, color)
    options = {}
    if exif:
        tags = Image.Exif()
        tags[0x010F], tags[0x0110] = "Canon", "EOS R5"
        inner = tags.get_ifd(0x8769)
        inner[0x9003], inner[0xA431] = "2026:02:28 14:05:09", SERIAL
        gps = tags.get_ifd(0x8825)
        gps.update({1: "N", 2: (41.0, 47.0, 24.0), 3: "E", 4: (123.0, 24.0, 0.0)})
        options["exif"] = tags.tobytes()
    if comment is not None:
        options["comment"] = comment
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def png(size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(out, "PNG")
    return out.getvalue()


def png_bomb(side: int = 30000) -> bytes:
    """A valid PNG header claiming side x side pixels of one colour: tiny compressed, huge decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side // 8 + 1) * side, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture
def photo_world(any_world, tmp_path):
    any_world.photo_store = photostore.LocalStore(str(tmp_path / "photos"))
    return any_world


@pytest.fixture
def api(photo_world):
    return Api(make_app(photo_world).test_client())


def upload(api: Api, path: str, user: str, *files: tuple[str, bytes], status: int = 201):
    data = {"photos": [(io.BytesIO(content), name) for name, content in files]}
    return api.post(path, user, data=data, content_type="multipart/form-data", status=status)


def test_a_report_photo_is_stored_reencoded_with_a_thumbnail_and_only_time_and_place_kept(api, photo_world):
    case = api.report("grid1")
    original = jpeg(comment=b"<script>alert(1)</script>")
    added = upload(api, f"/cases/{case['id']}/photos", "grid1", ("stairwell.jpg", original), ("sign.png", png()))
    assert [p["kind"] for p in added] == ["report", "report"] and added[0]["uploaded_by"] == "grid1"
    assert added[0]["gps"] == {"lat": pytest.approx(41.79), "lon": pytest.approx(123.4)}
    assert added[0]["taken_at"].startswith("2026-02-28T06:05:09")  # 14:05 in Shenyang
    listed = api.get(f"/cases/{case['id']}/photos", "supervisor1")
    assert [p["id"] for p in listed] == [p["id"] for p in added]
    assert set(added[0]) == set(listed[0]) == {"id", "case_id", "task_id", "kind", "width", "height", "size", "taken_at",
                                               "gps", "uploaded_at", "uploaded_by", "url", "thumbnail_url"}
    stored = api.client.get(listed[0]["url"], headers={"Authorization": f"Bearer {api.token('grid1')}"})
    assert stored.status_code == 200 and stored.mimetype == "image/jpeg"
    body = stored.get_data()
    assert body != original and SERIAL.encode() not in body and b"Canon" not in body and b"<script" not in body
    kept = Image.open(io.BytesIO(body)).getexif()
    assert set(kept) == {0x8769, 0x8825}  # only the Exif and GPS directories
    assert kept.get_ifd(0x8769) == {0x9003: "2026:02:28 14:05:09"}
    assert kept.get_ifd(0x8825)[1] == "N" and kept.get_ifd(0x8825)[3] == "E"
    thumb = api.client.get(listed[0]["thumbnail_url"], headers={"Authorization": f"Bearer {api.token('grid1')}"})
    assert max(Image.open(io.BytesIO(thumb.get_data())).size) == 320 and not Image.open(
        io.BytesIO(thumb.get_data())).getexif()
    as_png = Image.open(io.BytesIO(api.client.get(listed[1]["url"], headers={
        "Authorization": f"Bearer {api.token('grid1')}"}).get_data()))
    assert as_png.format == "JPEG" and as_png.getpixel((0, 0))[2] > 200  # blue over white
    history = [e["type"] for e in api.case(case["id"])["history"]]
    assert "photos_added" in history


def test_a_photo_without_metadata_keeps_none(api):
    case = api.report("grid1")
    added = upload(api, f"/cases/{case['id']}/photos", "grid1", ("plain.jpg", jpeg(exif=False)))
    assert (added[0]["taken_at"], added[0]["gps"]) == (None, None)


@pytest.mark.parametrize("name, content, status, problem", [
    ("notes.jpg", b"MZ\x90\x00 this is not an image at all" * 10, 400, "not a JPEG or PNG image"),
    ("cut.jpg", jpeg()[:700], 400, "damaged or truncated"),
    ("bomb.png", png_bomb(), 413, "too many pixels"),
    ("page.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 400,
     "not a JPEG or PNG image"),
    ("poly.jpg", b"GIF89a/*<html><script>alert(1)</script></html>*/", 400, "not a JPEG or PNG image"),
    ("html.png", b"\x89PNG\r\n\x1a\n<html><body><script>alert(1)</script></body></html>", 400,
     "damaged or truncated"),
])
def test_hostile_files_are_refused_naming_the_file_and_nothing_is_stored(api, photo_world, name, content, status,
                                                                          problem):
    case = api.report("grid1")
    answer = upload(api, f"/cases/{case['id']}/photos", "grid1", ("good.jpg", jpeg()), (name, content),
                    status=status)
    assert problem in answer["error"]["fields"][name]
    assert api.get(f"/cases/{case['id']}/photos", "grid1") == []


def test_a_photo_over_the_byte_limit_is_413(api, photo_world):
    from gridloop.engine import images
    photo_world.photo_limits = images.Limits(max_bytes=2000)
    case = api.report("grid1")
    answer = upload(api, f"/cases/{case['id']}/photos", "grid1", ("big.jpg", jpeg((400, 300))), status=413)
    assert answer["error"]["code"] == "too_large"


def test_a_camera_sized_photo_passes_the_request_limit_other_endpoints_keep(api):
    noise = Image.frombytes("RGB", (1200, 900), os.urandom(1200 * 900 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=100)
    assert len(out.getvalue()) > 1024 * 1024  # GRIDLOOP_MAX_REQUEST_BYTES' default
    case = api.report("grid1")
    upload(api, f"/cases/{case['id']}/photos", "grid1", ("big.jpg", out.getvalue()))
    api.call("PUT", "/users/grid1/notifications", "grid1", data=b"x" * (1024 * 1024 + 1),
             content_type="application/json", status=413)


def test_at_most_six_photos_at_a_time(api):
    case = api.report("grid1")
    answer = upload(api, f"/cases/{case['id']}/photos", "grid1", *[(f"{i}.jpg", jpeg((40, 30))) for i in range(7)],
                    status=400)
    assert "photos" in answer["error"]["fields"]


def test_rights_another_grids_worker_may_neither_add_nor_see(api, photo_world):
    case = api.report("grid1")
    added = upload(api, f"/cases/{case['id']}/photos", "grid1", ("a.jpg", jpeg()))
    upload(api, f"/cases/{case['id']}/photos", "grid2", ("b.jpg", jpeg()), status=403)
    api.get(f"/cases/{case['id']}/photos", "grid2", status=403)
    api.get(f"/photos/{added[0]['id']}", "grid2", status=403)
    api.get(f"/photos/{added[0]['id']}/thumbnail", "grid2", status=403)
    api.get("/photos/999999", "grid1", status=404)
    api.get(f"/photos/{added[0]['id']}", status=401)
    with photo_world.db.reading() as s:
        assert s.scalar(select(Photo.id).where(Photo.uploaded_by_id.is_(None))) is None


def test_resolution_and_verification_photos_go_to_their_tasks(api):
    case = api.report("grid1")
    task = api.open_task(case["id"])
    upload(api, f"/tasks/{task['id']}/photos", "grid2", ("x.jpg", jpeg()), status=403)  # not hers
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    resolution = upload(api, f"/tasks/{task['id']}/photos", "grid1", ("after.jpg", jpeg(color="green")))
    assert resolution[0]["kind"] == "resolution" and resolution[0]["task_id"] == task["id"]
    api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": RESOLVED})
    upload(api, f"/tasks/{task['id']}/photos", "grid1", ("late.jpg", jpeg()), status=403)  # completed
    verify = api.open_task(case["id"])
    assert verify["stage"] == "verification"
    checker = next(u for u in ("community1", "grid1") if verify["id"] in api.inbox_ids(u))
    checked = upload(api, f"/tasks/{verify['id']}/photos", checker, ("check.jpg", jpeg(color="blue")))
    assert checked[0]["kind"] == "verification"
    assert [p["kind"] for p in api.get(f"/cases/{case['id']}/photos", "supervisor1")] == ["resolution",
                                                                                          "verification"]


# ------------------------------------------------------------------------------ pages

GRID = all_grids()[0]
QR = f"/r/{places.place_token('test-secret', f'{GRID}-C1-B2')}"


@pytest.fixture
def pages(photo_world):
    app = make_app(photo_world)

    def sign_in(username: str) -> Browser:
        browser = Browser(app.test_client())
        browser.sign_in(username)
        return browser
    return app, sign_in


def files(*items: tuple[str, bytes]) -> list:
    return [(io.BytesIO(content), name) for name, content in items]


def _photos_of(world, case_id: int) -> list[Photo]:
    with world.db.reading() as s:
        return list(s.scalars(select(Photo).where(Photo.case_id == case_id).order_by(Photo.id)))


def test_the_staff_report_form_takes_photos_and_the_case_page_shows_them(pages, photo_world):
    _app, sign_in = pages
    grid1 = sign_in("grid1")
    form = grid1.get("/report").get_data(True)
    assert 'enctype="multipart/form-data"' in form and 'name="photos"' in form
    sent = grid1.post("/report", {"title": "Broken lamp", "category": "garbage", "source": "patrol",
                                  "grid": "21010200101001", "urgency": "normal", "location.address": "3号楼",
                                  "photos": files(("a.jpg", jpeg()))},
                      content_type="multipart/form-data")
    case_id = int(sent.location.rsplit("/", 1)[1])
    [photo] = _photos_of(photo_world, case_id)
    assert (photo.kind, photo.gps["lat"]) == ("report", pytest.approx(41.79))
    page = grid1.get(f"/cases/{case_id}").get_data(True)
    assert f'/photos/{photo.id}/thumbnail' in page and f'href="/photos/{photo.id}"' in page
    assert grid1.client.get(f"/photos/{photo.id}").mimetype == "image/jpeg"
    assert sign_in("grid2").client.get(f"/photos/{photo.id}/thumbnail").status_code == 403


def test_a_hostile_file_on_the_report_form_reports_nothing(pages, photo_world):
    _app, sign_in = pages
    grid1 = sign_in("grid1")
    grid1.get("/report")
    page = grid1.post("/report", {"title": "Broken lamp", "category": "garbage", "source": "patrol",
                                  "grid": "21010200101001", "urgency": "normal",
                                  "photos": files(("x.jpg", b"<html><script>alert(1)</script></html>"))},
                      content_type="multipart/form-data", status=400).get_data(True)
    assert "x.jpg: 不是 JPEG 或 PNG 图片" in page  # in the page's language
    english = grid1.post("/report", {"title": "Broken lamp", "category": "garbage", "source": "patrol",
                                     "grid": "21010200101001", "urgency": "normal",
                                     "photos": files(("y.png", png_bomb()))}, headers={"Accept-Language": "en"},
                         content_type="multipart/form-data", status=400).get_data(True)
    assert "y.png: too many pixels (at most 40000000)" in english
    with photo_world.db.reading() as s:
        assert s.scalar(select(Case.id).where(Case.title == "Broken lamp")) is None


def test_the_verifier_sees_the_resolution_and_its_photos_on_her_task(pages, photo_world):
    app, sign_in = pages
    api = Api(app.test_client())
    case = api.report("grid1")
    grid1 = sign_in("grid1")
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    grid1.get(f"/tasks/{task['id']}")
    grid1.post(f"/tasks/{task['id']}", {**RESOLVED, "photos": files(("after.jpg", jpeg(color="green")))},
               content_type="multipart/form-data")
    [after] = _photos_of(photo_world, case["id"])
    assert (after.kind, after.task_id) == ("resolution", task["id"])
    verify = api.open_task(case["id"])
    checker = next(u for u in ("community1", "grid1") if verify["id"] in api.inbox_ids(u))
    page = sign_in(checker).get(f"/tasks/{verify['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert "What came before" in page and "Fixed on site" in page
    assert "Photos of the resolution" in page and f"/photos/{after.id}/thumbnail" in page


def test_a_refused_photo_leaves_the_task_open(pages, photo_world):
    app, sign_in = pages
    api = Api(app.test_client())
    case = api.report("grid1")
    task = api.open_task(case["id"])
    grid1 = sign_in("grid1")
    grid1.get(f"/tasks/{task['id']}")
    page = grid1.post(f"/tasks/{task['id']}", {**RESOLVED, "photos": files(("bomb.png", png_bomb()))},
                      content_type="multipart/form-data", status=400).get_data(True)
    assert "bomb.png" in page and api.open_task(case["id"])["id"] == task["id"]


def test_a_resident_reports_with_photos_at_most_three(pages, photo_world):
    app, _sign_in = pages
    resident = Browser(app.test_client())
    resident.get(QR)
    status = resident.post(QR, {"category": "garbage", "description": "楼道堆满垃圾袋",
                                "photos": files(("1.jpg", jpeg()), ("2.png", png()))},
                           content_type="multipart/form-data").location
    number = re.search(r"GL\d+", resident.get(status).get_data(True)).group(0)
    with photo_world.db.reading() as s:
        case = s.scalars(select(Case).where(Case.number == number)).one()
    shots = _photos_of(photo_world, case.id)
    assert [(p.kind, p.uploaded_by_id) for p in shots] == [("report", None), ("report", None)]
    page = resident.post(QR, {"category": "garbage", "photos": files(*[(f"{i}.jpg", jpeg((40, 30))) for i in range(4)])},
                         content_type="multipart/form-data", status=400).get_data(True)
    assert "最多 3 张照片" in page
    page = resident.post(QR, {"category": "garbage", "photos": files(("a.jpg", b"GIF89a<svg onload=alert(1)>"))},
                         content_type="multipart/form-data", status=400).get_data(True)
    assert "不是 JPEG 或 PNG 图片" in page


def test_public_uploads_are_rate_limited(photo_world):
    app = make_app(photo_world)
    app.config["PUBLIC_REPORT_LIMIT"] = "2 per minute"
    resident = Browser(app.test_client())
    resident.get(QR)
    for _ in range(2):
        resident.post(QR, {"category": "garbage", "photos": files(("1.jpg", jpeg()))}, content_type="multipart/form-data")
    flooded = resident.post(QR, {"category": "garbage", "photos": files(("1.jpg", jpeg()))},
                            content_type="multipart/form-data", status=429)
    assert flooded.headers["Retry-After"]
    with photo_world.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Photo)) == 2
