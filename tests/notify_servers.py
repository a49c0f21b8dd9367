"""Local endpoints for the notification tests: an SMTP server (aiosmtpd) and a webhook
receiver (http.server) that answers as told: accept, fail, or hang until released."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from gridloop.engine.delivery import Transport


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailBox:
    """An SMTP server on 127.0.0.1 keeping every message it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def transport(self, **kwargs) -> Transport:
        return Transport(smtp_host="127.0.0.1", smtp_port=self.controller.port, mail_from="gridloop@example.org",
                         **kwargs)

    def __enter__(self) -> MailBox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class Receiver:
    """A webhook endpoint; ``status`` is what it answers; with ``hold`` set it hangs each
    request until ``release`` is set (``entered`` tells that a request is hanging)."""

    def __init__(self, status: int = 200, hold: bool = False):
        self.status = status
        self.hold = hold
        self.entered = threading.Event()
        self.release = threading.Event()
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.hold:
                    receiver.entered.set()
                    receiver.release.wait(30)
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.received]

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
