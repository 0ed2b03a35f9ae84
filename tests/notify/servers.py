"""Real local servers for notify tests and benchmarks: an SMTP sink and an SMS gateway.

Both dedupe by the idempotency key the dispatcher sends (Message-ID / "id"), as the
documented receivers must; both keep every raw request so tests can see duplicates too.
"""
from __future__ import annotations

import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """aiosmtpd in a thread on a free 127.0.0.1 port; `messages` are unique by Message-ID."""

    def __init__(self):
        self.raw: list[email.message.Message] = []
        self.messages: dict[str, email.message.Message] = {}
        self.lock = threading.Lock()
        self.refuse_next = 0  # answer 550 to the next N messages
        self.controller = None
        self.port = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self.lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "550 mailbox unavailable"
            message = email.message_from_bytes(envelope.content)
            self.raw.append(message)
            self.messages.setdefault(message["Message-ID"], message)
        return "250 OK"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.raw.clear()
            self.messages.clear()
            self.refuse_next = 0


class SmsGateway:
    """The generic JSON SMS webhook (channels.py) on 127.0.0.1, recording what it gets.

    `fail_next` answers `fail_status` to the next N requests (500: transient, 400: permanent).
    `sent` maps each idempotency key to its first request: a repeated key answers the same
    message_id and sends nothing new, as a real provider keyed by our id would. Batch
    requests ({"messages": [...]}) are answered message by message; `requests` lists every
    message received, `posts` counts the HTTP requests, and ids in `leave_out` are left out
    of a batch's results (a misbehaving provider).
    """

    def __init__(self, key: str = "gateway-key"):
        self.key = key
        self.requests: list[dict] = []
        self.sent: dict[str, dict] = {}
        self.ids: dict[str, str] = {}
        self.fail_next = 0
        self.fail_status = 500
        self.posts = 0
        self.leave_out: set[str] = set()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def _accept(self, message: dict) -> dict:
        """Send `message` once per idempotency key (the lock is held)."""
        key = message["id"]
        if key not in self.ids:
            self.ids[key] = f"gw-{len(self.ids) + 1}"
            self.sent[key] = message
        return {"id": key, "message_id": self.ids[key]}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def start(self) -> SmsGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the channel expects
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK stall every response by 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {gateway.key}":
                    return self._answer(401, {"error": "unauthorized"})
                try:
                    payload = json.loads(body)
                except ValueError:
                    return self._answer(400, {"error": "bad json"})
                batch = payload.get("messages") if isinstance(payload, dict) else None
                with gateway.lock:
                    gateway.requests += batch if batch is not None else [payload]
                    gateway.posts += 1
                    if gateway.fail_next > 0:
                        gateway.fail_next -= 1
                        status = gateway.fail_status
                        answer = {"error": "simulated failure"}
                    elif batch is not None:
                        status = 200
                        answer = {"results": [gateway._accept(m) for m in batch
                                              if m["id"] not in gateway.leave_out]}
                    else:
                        status = 200
                        answer = {"message_id": gateway._accept(payload)["message_id"]}
                self._answer(status, answer)

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass  # a worker killed with -9 resets its connections: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.sent.clear()
            self.ids.clear()
            self.fail_next = 0
            self.fail_status = 500
            self.posts = 0
            self.leave_out.clear()
