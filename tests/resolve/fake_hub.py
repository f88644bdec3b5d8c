"""A small Hugging Face Hub on 127.0.0.1 for the resolver tests.

It answers the two calls vram makes through huggingface_hub: the model info API
(``GET /api/models/{repo}[/revision/{rev}]``) and file resolution
(``HEAD``/``GET /{repo}/resolve/{rev}/config.json``), with the headers and error codes the real
Hub sends (``X-Repo-Commit``, ``ETag``, ``X-Error-Code``: RepoNotFound, GatedRepo,
RevisionNotFound, EntryNotFound).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHA = "a" * 40


class Repo:
    """One fixture repo: its config bytes and how the server treats it."""

    def __init__(
        self,
        config: Any = None,
        *,
        raw: bytes | None = None,
        safetensors: dict[str, int] | None = None,
        status: int = 200,
        error_code: str | None = None,
        delay: float = 0.0,
        config_missing: bool = False,
        gated: bool = False,
        token: str | None = None,
    ) -> None:
        self.body = raw if raw is not None else json.dumps(config).encode()
        self.safetensors = safetensors
        self.status = status
        self.error_code = error_code
        self.delay = delay
        self.config_missing = config_missing
        self.gated = gated
        self.token = token


class FakeHub:
    """Start with ``with FakeHub(repos) as hub:``; ``hub.url`` is the HF_ENDPOINT."""

    def __init__(self, repos: dict[str, Repo]) -> None:
        self.repos = repos
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # keep test output clean
                return

            def do_GET(self) -> None:
                hub.handle(self, body=True)

            def do_HEAD(self) -> None:
                hub.handle(self, body=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering (connections are refused afterwards)."""
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req: BaseHTTPRequestHandler, *, body: bool) -> None:
        self.requests.append(f"{req.command} {req.path}")
        path = req.path.split("?")[0]
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            repo_id, _, revision = rest.partition("/revision/")
            return self._info(req, repo_id, revision or "main", body)
        repo_id, _, tail = path.lstrip("/").partition("/resolve/")
        revision, _, filename = tail.partition("/")
        return self._file(req, repo_id, revision, filename, body)

    def _repo(self, req: BaseHTTPRequestHandler, repo_id: str, revision: str, body: bool) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._send(req, 404, b'{"error": "Repository not found"}', body, {"X-Error-Code": "RepoNotFound"})
            return None
        time.sleep(repo.delay)
        if repo.token is not None and req.headers.get("authorization") != f"Bearer {repo.token}":
            headers = {"X-Error-Message": "Invalid credentials in Authorization header"}
            self._send(req, 401, b'{"error": "Invalid credentials"}', body, headers)
            return None
        if revision not in ("main", SHA):
            self._send(req, 404, b'{"error": "Invalid rev id"}', body, {"X-Error-Code": "RevisionNotFound"})
            return None
        if repo.status != 200:
            headers = {"X-Error-Code": repo.error_code} if repo.error_code else {}
            self._send(req, repo.status, b'{"error": "fixture"}', body, headers)
            return None
        return repo

    def _info(self, req: BaseHTTPRequestHandler, repo_id: str, revision: str, body: bool) -> None:
        repo = self._repo(req, repo_id, revision, body)
        if repo is None:
            return
        info: dict[str, Any] = {"id": repo_id, "sha": SHA, "siblings": [{"rfilename": "config.json"}]}
        if repo.gated:
            info["gated"] = "manual"
        if repo.safetensors:
            info["safetensors"] = {"parameters": repo.safetensors, "total": sum(repo.safetensors.values())}
        self._send(req, 200, json.dumps(info).encode(), body, {"Content-Type": "application/json"})

    def _file(self, req: BaseHTTPRequestHandler, repo_id: str, revision: str, filename: str, body: bool) -> None:
        repo = self._repo(req, repo_id, revision, body)
        if repo is None:
            return
        if repo.gated:
            headers = {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to this model is restricted"}
            self._send(req, 401, b'{"error": "gated"}', body, headers)
            return
        if filename != "config.json" or repo.config_missing:
            self._send(
                req, 404, b'{"error": "Entry not found"}', body, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": SHA}
            )
            return
        etag = '"' + hashlib.sha1(repo.body).hexdigest() + '"'  # noqa: S324 - an ETag, not security
        self._send(req, 200, repo.body, body, {"X-Repo-Commit": SHA, "ETag": etag})

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, payload: bytes, body: bool, headers: dict[str, str]) -> None:
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        if body:
            req.wfile.write(payload)
