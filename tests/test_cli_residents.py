"""`gridloop qr` prints a community's QR codes; `gridloop open311-key` manages client keys."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gridloop.cli import main
from gridloop.engine import open311, places, qrsheet
from gridloop.engine.db import Database
from gridloop.engine.errors import Forbidden
from gridloop.engine.model import Place
from gridloop.engine.seed import seed_demo

COMMUNITY = "21010200101"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDLOOP_SECRET_KEY", "cli-secret")
    monkeypatch.setenv("GRIDLOOP_PUBLIC_URL", "https://gridloop.example")
    db = Database(url)
    db.create_schema()
    with db.transaction() as s:
        seed_demo(s)
    db.dispose()

    def run(*args):
        return CliRunner().invoke(main, list(args))
    run.db_url = url
    return run


def test_qr_writes_the_communitys_codes_signed_for_the_public_url(cli, tmp_path):
    out = tmp_path / "sheet.png"
    result = cli("qr", "--community", COMMUNITY, "--out", str(out))
    assert result.exit_code == 0 and "9 QR codes" in result.output
    db = Database(cli.db_url)
    with db.reading() as s:
        found = s.scalars(select(Place).where(Place.code.startswith(COMMUNITY)).order_by(Place.code)).all()
        expected = [(f"https://gridloop.example/r/{places.place_token('cli-secret', p.code)}",
                     f"{p.code}\n{p.name_en}") for p in found]
    db.dispose()
    assert out.read_bytes() == qrsheet.sheet(expected, "png")  # exactly these links, nothing else
    pdf = tmp_path / "sheet.pdf"
    assert cli("qr", "--community", COMMUNITY, "--out", str(pdf)).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_qr_refuses_unknown_communities_and_formats(cli, tmp_path):
    unknown = cli("qr", "--community", "999", "--out", str(tmp_path / "x.pdf"))
    assert unknown.exit_code == 1 and "community '999' not found" in unknown.output
    wrong = cli("qr", "--community", COMMUNITY, "--out", str(tmp_path / "x.svg"))
    assert wrong.exit_code == 2 and ".png or .pdf" in wrong.output
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.svg").exists()


def test_open311_keys_are_created_listed_and_revoked(cli):
    created = cli("open311-key", "create", "city-app")
    assert created.exit_code == 0
    key = created.output.strip()
    db = Database(cli.db_url)
    with db.reading() as s:
        assert open311.client_for_key(s, key) == "city-app"
    assert cli("open311-key", "create", "city-app").exit_code == 1  # one key per name
    assert "city-app: created" in cli("open311-key", "list").output and "active" in cli("open311-key", "list").output
    assert cli("open311-key", "revoke", "city-app").exit_code == 0
    assert "revoked" in cli("open311-key", "list").output
    assert cli("open311-key", "revoke", "nobody").exit_code == 1
    with db.reading() as s:
        with pytest.raises(Forbidden, match="invalid api_key"):
            open311.client_for_key(s, key)
    db.dispose()
