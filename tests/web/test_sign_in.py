"""Signing in: failed attempts limited per account and per address (HTML and API together),
the same hash work for unknown names, old password hashes upgraded, sessions revoked on the
server when signing out or when the user is deactivated."""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from gridloop.engine import org
from gridloop.engine.errors import Forbidden, NotFound
from gridloop.engine.model import ApiToken, User
from gridloop.web import create_app

from .conftest import Browser

EN = {"Accept-Language": "en"}


def limited_app(world, **config):
    return create_app({"TESTING": True, "RUNTIME": world, "SECRET_KEY": "k", **config})


def api_sign_in(client, username: str, password: str = "demo", address: str = "10.0.0.1"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def page_sign_in(client, username: str, password: str = "demo", address: str = "10.0.0.1"):
    """The HTML form (CSRF is checked elsewhere; here the limits are)."""
    return client.post("/sign-in", data={"username": username, "password": password}, headers=EN,
                       environ_base={"REMOTE_ADDR": address})


def assert_throttled(response) -> int:
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60
    return seconds


def test_failed_sign_ins_are_limited_per_account_across_addresses_and_endpoints(world):
    app = limited_app(world, SIGNIN_LIMIT="3 per minute", SIGNIN_ADDRESS_LIMIT="100 per minute",
                      WTF_CSRF_ENABLED=False)
    client = app.test_client()
    assert api_sign_in(client, "grid1", "wrong", "10.0.0.1").status_code == 401
    assert page_sign_in(client, "grid1", "wrong", "10.0.0.2").status_code == 401
    assert api_sign_in(client, "grid1", "wrong", "10.0.0.3").status_code == 401
    blocked = api_sign_in(client, "grid1", "demo", "10.0.0.4")  # even the right password now
    seconds = assert_throttled(blocked)
    assert blocked.get_json()["error"]["code"] == "too_many_requests"
    assert f"try again in {seconds} s" in blocked.get_json()["error"]["message"]
    page = page_sign_in(client, "grid1", "demo", "10.0.0.5")
    assert_throttled(page)
    assert "Too many failed sign-ins" in page.get_data(True) and 'value="grid1"' in page.get_data(True)
    assert api_sign_in(client, "grid2", "demo", "10.0.0.6").status_code == 200  # another account: unaffected


def test_failed_sign_ins_are_limited_per_address_across_accounts(world):
    app = limited_app(world, SIGNIN_LIMIT="100 per minute", SIGNIN_ADDRESS_LIMIT="3 per minute",
                      WTF_CSRF_ENABLED=False)
    client = app.test_client()
    for name in ("grid1", "grid2", "grid3"):
        assert api_sign_in(client, name, "wrong", "10.0.0.9").status_code == 401
    assert_throttled(api_sign_in(client, "grid4", "demo", "10.0.0.9"))
    zh = client.post("/sign-in", data={"username": "grid5", "password": "demo"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert_throttled(zh)
    assert "登录失败次数过多" in zh.get_data(True)
    assert api_sign_in(client, "grid5", "demo", "10.0.0.10").status_code == 200  # another address
    assert page_sign_in(client, "grid6", "demo", "10.0.0.11").status_code == 302


def test_successful_sign_ins_do_not_count(world):
    client = limited_app(world, SIGNIN_LIMIT="2 per minute", SIGNIN_ADDRESS_LIMIT="2 per minute").test_client()
    for _ in range(4):
        assert api_sign_in(client, "grid1").status_code == 200


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(world):
    def fail_from(client, forwarded: str):
        return client.post("/api/v1/auth/token", json={"username": f"nobody-{forwarded}", "password": "x"},
                           headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    direct = limited_app(world, SIGNIN_ADDRESS_LIMIT="2 per minute").test_client()
    assert [fail_from(direct, f"192.0.2.{n}").status_code for n in range(3)] == [401, 401, 429]
    proxied = limited_app(world, SIGNIN_ADDRESS_LIMIT="2 per minute", TRUSTED_PROXIES=1).test_client()
    assert [fail_from(proxied, f"192.0.2.{n}").status_code for n in range(3)] == [401, 401, 401]


def test_limits_are_kept_in_redis_when_configured(world):
    redis = pytest.importorskip("redis")
    url = os.environ.get("GRIDLOOP_TEST_REDIS_URL")
    try:
        if not url:
            raise redis.exceptions.ConnectionError("GRIDLOOP_TEST_REDIS_URL is not set")
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):  # .ci/run starts Redis: there its absence is a failure
            raise
        pytest.skip(f"no Redis at {url}")
    prefix = f"gridloop-test-{uuid.uuid4().hex[:8]}"
    config = dict(SIGNIN_LIMIT="2 per minute", RATELIMIT_STORAGE_URI=url, RATELIMIT_KEY_PREFIX=prefix)
    first, second = limited_app(world, **config).test_client(), limited_app(world, **config).test_client()
    try:
        assert api_sign_in(first, "grid1", "wrong").status_code == 401
        assert api_sign_in(second, "grid1", "wrong", "10.0.0.2").status_code == 401  # another process
        assert_throttled(api_sign_in(first, "grid1", "demo", "10.0.0.3"))
        assert redis.Redis.from_url(url).keys(f"*{prefix}*")
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def test_invalid_limits_are_refused_at_start(world):
    with pytest.raises(ValueError, match="GRIDLOOP_SIGNIN_LIMIT must be a limit"):
        limited_app(world, SIGNIN_LIMIT="often")


def test_an_unknown_name_costs_one_verification_of_a_current_hash(api, world, monkeypatch):
    checked = []

    def counting(stored, password):
        checked.append(stored)
        return verify(stored, password)
    verify = org.verify_password
    monkeypatch.setattr(org, "verify_password", counting)
    api.post("/auth/token", json={"username": "nobody", "password": "demo"}, status=401)
    api.post("/auth/token", json={"username": "grid1", "password": "wrong"}, status=401)
    with world.db.transaction() as s:
        s.execute(update(User).where(User.username == "grid2").values(active=False))
    api.post("/auth/token", json={"username": "grid2", "password": "demo"}, status=401)
    assert len(checked) == 3
    assert checked[0].startswith("$argon2id$") and not org.needs_rehash(checked[0])  # the cost of a real one


def legacy_hash(password: str, salt: str = "0123456789abcdef", rounds: int = 1000) -> str:
    """The PBKDF2 format Gridloop stored before Argon2."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()
    return f"pbkdf2_sha256${rounds}${salt}${digest}"


def stored_hash(world, username: str) -> str:
    with world.db.reading() as s:
        return s.scalars(select(User.password_hash).where(User.username == username)).one()


@pytest.mark.parametrize("old", [legacy_hash("demo"), PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash("demo")],
                         ids=["pbkdf2", "argon2-other-cost"])
def test_an_old_hash_is_verified_and_upgraded_at_the_next_sign_in(api, browser, world, old):
    with world.db.transaction() as s:
        s.execute(update(User).where(User.username.in_(["grid1", "grid2"])).values(password_hash=old))
    api.post("/auth/token", json={"username": "grid1", "password": "wrong"}, status=401)
    assert stored_hash(world, "grid1") == old  # a wrong password changes nothing
    api.post("/auth/token", json={"username": "grid1", "password": "demo"})
    upgraded = stored_hash(world, "grid1")
    assert upgraded.startswith("$argon2id$") and not org.needs_rehash(upgraded)
    assert org.verify_password(upgraded, "demo") and not org.verify_password(upgraded, "wrong")
    api.post("/auth/token", json={"username": "grid1", "password": "demo"})
    browser.sign_in("grid2")  # the HTML page upgrades too
    assert not org.needs_rehash(stored_hash(world, "grid2"))


def test_a_malformed_stored_hash_is_a_failed_sign_in(api, world):
    for bad in ("pbkdf2_sha256$x$y", "pbkdf2_sha256$many$salt$digest", "$argon2id$nonsense", "plain"):
        with world.db.transaction() as s:
            s.execute(update(User).where(User.username == "grid1").values(password_hash=bad))
        api.post("/auth/token", json={"username": "grid1", "password": "demo"}, status=401)


def replay(app, cookie: str) -> Browser:
    """A fresh browser holding a copy of a session cookie."""
    other = Browser(app.test_client())
    other.client.set_cookie("session", cookie)
    return other


def test_signing_out_revokes_the_session_on_the_server(app, as_user):
    grid1 = as_user("grid1")
    cookie = grid1.client.get_cookie("session").value
    replay(app, cookie).get("/inbox/mine")  # a copy works while she is signed in
    grid1.post("/sign-out")
    grid1.get("/inbox/mine", status=302)
    stolen = replay(app, cookie).get("/inbox/mine", status=302)
    assert "/sign-in" in stolen.headers["Location"]
    as_user("grid1").get("/inbox/mine")  # signing in again works


def test_deactivating_a_user_ends_her_sessions_and_tokens(app, api, world, as_user):
    grid1, other = as_user("grid1"), as_user("grid2")
    api.token("grid1")
    world.deactivate_user(None, "grid1")
    grid1.get("/inbox/mine", status=302)
    other.get("/inbox/mine")
    with world.db.transaction() as s:
        grid1_id = s.scalars(select(User.id).where(User.username == "grid1")).one()
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == grid1_id)).all() == []
        s.execute(update(User).where(User.id == grid1_id).values(active=True))
    grid1.get("/inbox/mine", status=302)  # reactivated: her old sessions stay ended
    with pytest.raises(NotFound):
        world.deactivate_user(None, "nobody")
    with world.db.reading() as s:
        supervisor = s.scalars(select(User.id).where(User.username == "supervisor1")).one()
    with pytest.raises(Forbidden):  # administrators only
        world.deactivate_user(supervisor, "grid2")
