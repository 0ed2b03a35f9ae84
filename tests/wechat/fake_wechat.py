"""A local stand-in for WeChat's servers, answering as WeChat's documentation says:

- GET  /cgi-bin/token?grant_type=client_credential&appid&secret -> {"access_token",
  "expires_in"}; a wrong appid 40013, a wrong secret 40125 (a new token replaces the old);
- POST /cgi-bin/message/template/send?access_token -> {"errcode": 0, "errmsg": "ok",
  "msgid"}; an unknown token 40001, a replaced one 42001; touser/template_id/data required
  (47001); one message per (touser, client_msg_id);
- GET  /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state -> 302 to
  redirect_uri?code=CODE&state=STATE (inside WeChat, snsapi_base asks nothing);
- GET  /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code ->
  {"access_token", "expires_in", "refresh_token", "openid", "scope"}; a code works once
  (40163), an unknown one 40029.
"""
from __future__ import annotations

import itertools
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

APP_ID = "wx1234567890abcdef"
APP_SECRET = "s3cr3t-of-the-official-account"


class FakeWeChat:
    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET):
        self.app_id, self.secret = app_id, secret
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.tokens_issued: list[str] = []
            self.current_token: str | None = None
            self.expires_in = 7200
            self.sends: list[dict] = []  # every template/send request body, as sent
            self.sent: dict[tuple[str, str], int] = {}  # (touser, client_msg_id) -> msgid
            self.queued_errors: list[int] = []  # errcodes to answer the next sends with
            self.codes: dict[str, str] = {}  # authorization code -> openid
            self.used_codes: set[str] = set()
            self.next_openid = "oWeChatUser000000000000001"
            self.authorize_requests: list[dict] = []
            self.msgids = itertools.count(200228332)

    # -- the documented endpoints -------------------------------------------------------------
    def token(self, query: dict) -> dict:
        if query.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if query.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = f"ACCESS_TOKEN_{len(self.tokens_issued) + 1}_{secrets.token_hex(8)}"
        self.tokens_issued.append(token)
        self.current_token = token
        return {"access_token": token, "expires_in": self.expires_in}

    def template_send(self, query: dict, body: dict) -> dict:
        token = query.get("access_token")
        if token != self.current_token:
            if token in self.tokens_issued:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        self.sends.append(body)
        if self.queued_errors:
            errcode = self.queued_errors.pop(0)
            return {"errcode": errcode, "errmsg": f"error {errcode}"}
        if not isinstance(body, dict) or not all(body.get(k) for k in
                                                 ("touser", "template_id", "data")):
            return {"errcode": 47001, "errmsg": "data format error"}
        key = (body["touser"], body.get("client_msg_id") or secrets.token_hex(8))
        if key not in self.sent:
            self.sent[key] = next(self.msgids)
        return {"errcode": 0, "errmsg": "ok", "msgid": self.sent[key]}

    def authorize(self, query: dict) -> str | dict:
        self.authorize_requests.append(query)
        if query.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("response_type") != "code" or query.get("scope") not in (
                "snsapi_base", "snsapi_userinfo"):
            return {"errcode": 10003, "errmsg": "redirect_uri or scope invalid"}
        code = secrets.token_hex(16)
        self.codes[code] = self.next_openid
        back = {"code": code, "state": query.get("state", "")}
        separator = "&" if "?" in query["redirect_uri"] else "?"
        return query["redirect_uri"] + separator + urlencode(back)

    def code_exchange(self, query: dict) -> dict:
        if query.get("appid") != self.app_id or query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("code", "")
        if code in self.used_codes:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in self.codes:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.used_codes.add(code)
        return {"access_token": "WEB_" + secrets.token_hex(8), "expires_in": 7200,
                "refresh_token": "REFRESH_" + secrets.token_hex(8),
                "openid": self.codes[code], "scope": "snsapi_base"}

    # -- serving ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go in two writes: without this, the body waits for
            # the client's delayed ACK of the headers (40 ms a request on keep-alive).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _query(self) -> dict:
                return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

            def do_GET(self):
                path, query = urlsplit(self.path).path, self._query()
                with fake.lock:
                    if path == "/cgi-bin/token":
                        return self._json(fake.token(query))
                    if path == "/sns/oauth2/access_token":
                        return self._json(fake.code_exchange(query))
                    if path == "/connect/oauth2/authorize":
                        answer = fake.authorize(query)
                        if isinstance(answer, str):
                            return self._redirect(answer)
                        return self._json(answer)
                self._json({"errcode": 404, "errmsg": "not found"}, status=404)

            def do_POST(self):
                path, query = urlsplit(self.path).path, self._query()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                with fake.lock:
                    if path == "/cgi-bin/message/template/send":
                        return self._json(fake.template_send(query, body))
                self._json({"errcode": 404, "errmsg": "not found"}, status=404)

            def _json(self, payload, status=200):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; encoding=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
