"""``gridloop qr`` (the residents' QR codes of a community) and ``gridloop open311-key``
(the Open311 client applications and their API keys)."""
from __future__ import annotations

import os

import click

from gridloop.engine import open311, places, qrsheet
from gridloop.engine.errors import EngineError


def _fail(exc: EngineError) -> None:
    from . import _fail as fail
    fail(exc)


def _runtime():
    from . import _runtime as runtime
    return runtime()


@click.command()
@click.option("--community", required=True, help="The community's code (its compounds and buildings).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The sheet to write: a .pdf (A4 pages) or a .png.")
def qr(community, out) -> None:
    """Print the QR codes of a community's compounds and buildings. Each leads to the public
    report page of its place on GRIDLOOP_PUBLIC_URL, signed with the server's secret key
    (GRIDLOOP_SECRET_KEY or instance/secret_key: run this where the server runs)."""
    from gridloop.web import create_app
    from gridloop.web.residents import caption, qr_url
    fmt = os.path.splitext(out)[1].lstrip(".").lower()
    if fmt not in qrsheet.FORMATS:
        raise click.BadParameter(f"must end in .{' or .'.join(qrsheet.FORMATS)}", param_hint="--out")
    app = create_app({"RUNTIME": _runtime()})
    rt = app.extensions["gridloop"]
    try:
        with rt.db.reading() as s:
            _unit, found = places.community_places(s, None, community)
    except EngineError as exc:
        _fail(exc)
    if not found:
        raise click.ClickException(f"community {community} has no compounds or buildings")
    with app.app_context():
        codes = [(qr_url(p.code), caption(p)) for p in found]
    with open(out, "wb") as fh:
        fh.write(qrsheet.sheet(codes, fmt))
    click.echo(f"wrote {out}: {len(codes)} QR codes")


@click.group("open311-key")
def open311_key() -> None:
    """The client applications of the Open311 API and their keys."""


def _keys(action):
    """``action(runtime)`` as the system (actor ``None``); an engine error ends with exit 1."""
    try:
        return action(_runtime())
    except EngineError as exc:
        _fail(exc)


@open311_key.command("create")
@click.argument("name")
def key_create(name) -> None:
    """A new client application NAME; prints its API key, which is not shown again."""
    click.echo(_keys(lambda rt: rt.create_open311_client(None, name)))


@open311_key.command("revoke")
@click.argument("name")
def key_revoke(name) -> None:
    """Revoke the key of client application NAME: its requests are refused from now on."""
    _keys(lambda rt: rt.revoke_open311_client(None, name))
    click.echo(f"revoked {name}")


@open311_key.command("list")
def key_list() -> None:
    """Each client application, when it was created and whether its key is revoked."""
    with _runtime().db.reading() as s:
        found = open311.clients(s)
    for client in found:
        state = f"revoked {client['revoked_at']:%Y-%m-%d}" if client["revoked_at"] else "active"
        click.echo(f"{client['name']}: created {client['created_at']:%Y-%m-%d}, {state}")
