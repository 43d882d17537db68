"""The ``Idempotency-Key`` header on every operation that creates something (the IETF HTTP API draft's semantics):
the first request under a key is answered and its answer kept for a day; the same request again under that key
gets the first answer again (``Idempotent-Replayed: true``), another request under it a 422
``idempotency-key-reused``, and a request arriving while the first is still being answered a 409
``idempotency-key-in-use``. Only successful answers are kept: after a failure the same request may be retried.

Answers are kept in the store whose state the request changed (:class:`crossverify.idempotency.Answers`), under
an id and a fingerprint derived from the client's key (HKDF, HMAC), sealed with AES-GCM under a key derived from
it too: an answer that holds a resident's disclosed claims or a one-time pickup code is kept, but cannot be read
without the key only its client holds. A key is 16 to 255 visible characters: a UUID, or 128 random bits.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..idempotency import Answers, Kept
from .dependencies import in_one_turn, json_response
from .problems import IDEMPOTENCY_CONFLICT, IDEMPOTENCY_MISMATCH, INVALID_REQUEST, Problem, responses

HEADER = "Idempotency-Key"
#: Visible ASCII, optionally quoted as the draft's structured-field string.
_KEY = re.compile(r'"?([\x21\x23-\x7e]{16,255})"?')
_DESCRIBED = ("Makes the request safe to retry: the same request again under this key gets the first answer "
              "again (for a day), another request under it a 422 idempotency-key-reused. 16 to 255 visible "
              "characters: a UUID, or 128 random bits.")


def idempotent() -> dict[str, Any]:
    """``openapi_extra`` for an operation that takes an ``Idempotency-Key``."""
    return {"parameters": [{"name": HEADER, "in": "header", "required": False, "description": _DESCRIBED,
                            "schema": {"type": "string", "minLength": 16, "maxLength": 257,
                                       "pattern": f"^{_KEY.pattern}$"},
                            "example": "8e03978e-40d5-43e8-bc93-6894a57f9324"}],
            "responses": {"200": {"headers": {"Idempotent-Replayed": {
                "description": "`true` on the first answer given again to a request retried under its key",
                "schema": {"type": "string", "enum": ["true"]}}}},
                **{str(status): answer for status, answer in responses(409, 422).items()}}}


class Once:
    """One request under an idempotency key, for ``answers``: :meth:`run` (or :meth:`arun` for work that is
    awaited) does the work at most once per key and request."""

    def __init__(self, answers: Answers, client: str, key: str, request: bytes) -> None:
        secret = HKDF(SHA256(), 64, salt=client.encode(), info=b"crossverify idempotency key").derive(key.encode())
        self.answers, self._mac, self._sealing = answers, secret[:32], AESGCM(secret[32:])
        self.key_id = hmac.new(self._mac, b"key", hashlib.sha256).digest()
        self.fingerprint = hmac.new(self._mac, b"request\0" + request, hashlib.sha256).digest()

    def run(self, work: Callable[[], Any]) -> Response:
        replay = self._replay(self.answers.begin(self.key_id, self.fingerprint, int(time.time())))
        if replay is not None:
            return replay
        try:
            answer = _response(work())
        except BaseException:
            self.answers.abandon(self.key_id, self.fingerprint)
            raise
        kept = self._sealed(answer)
        if kept is None:
            self.answers.abandon(self.key_id, self.fingerprint)
        else:
            self.answers.finish(self.key_id, self.fingerprint, answer.status_code, kept)
        return answer

    async def arun(self, work: Callable[[], Awaitable[Any]]) -> Response:
        """:meth:`run` for awaited work; the key is reserved, and the answer kept, together with those of the
        other requests the event loop reads in the same turn (:func:`~.dependencies.in_one_turn`: the reservations in
        one transaction, the answers in another; one at a time, concurrent requests under keys each waited for their
        own disk sync before their verification was queued, and came to it one by one: at 64 clients, batches of
        two, an eighth of the requests a second)."""
        replay = self._replay(await in_one_turn((self.answers, "begin"), partial(_begin_now, self.answers),
                                                (self.key_id, self.fingerprint)))
        if replay is not None:
            return replay
        try:
            answer = _response(await work())
        except BaseException:
            await run_in_threadpool(self.answers.abandon, self.key_id, self.fingerprint)
            raise
        kept = self._sealed(answer)
        if kept is None:
            await run_in_threadpool(self.answers.abandon, self.key_id, self.fingerprint)
        else:
            await in_one_turn((self.answers, "finish"), self.answers.finish_many,
                              (self.key_id, self.fingerprint, answer.status_code, kept))
        return answer

    def _replay(self, kept: Kept | None) -> Response | None:
        """The first answer under this key again; ``None`` when this request is the one to answer."""
        if kept is None:
            return None
        if not kept.same:
            raise Problem(IDEMPOTENCY_MISMATCH, f"this {HEADER} was used with another request: use a new key for "
                                                "a new request")
        if kept.status is None or kept.answer is None:
            raise Problem(IDEMPOTENCY_CONFLICT, f"the first request under this {HEADER} is still being answered",
                          {"Retry-After": "1"})
        opened = self._sealing.decrypt(kept.answer[:12], kept.answer[12:], self.key_id)
        media_type, _, body = opened.partition(b"\n")
        return Response(body, status_code=kept.status, media_type=media_type.decode(),
                        headers={"Idempotent-Replayed": "true"})

    def _sealed(self, answer: Response) -> bytes | None:
        """A successful answer sealed to be kept (nonce and AES-GCM ciphertext); ``None`` for any other."""
        if not 200 <= answer.status_code < 300:
            return None
        nonce = os.urandom(12)
        opened = (answer.media_type or "application/json").encode() + b"\n" + bytes(answer.body)
        return nonce + self._sealing.encrypt(nonce, opened, self.key_id)


def _begin_now(answers: Answers, requests: list[tuple[bytes, bytes]]) -> list[Kept | None]:
    return answers.begin_many(requests, int(time.time()))


def once(request: Request, answers: Answers | None, body: bytes = b"") -> Once | None:
    """The :class:`Once` for ``request`` when it carries an ``Idempotency-Key`` (and ``answers`` can keep its
    answer); ``body`` is the request's body as parsed, or its bytes."""
    given = request.headers.getlist(HEADER)
    if not given or answers is None:
        return None
    if len(given) > 1:
        raise Problem(INVALID_REQUEST, f"{HEADER} is given {len(given)} times: give it once",
                      errors=[{"location": "header", "name": HEADER, "detail": "given more than once"}])
    matched = _KEY.fullmatch(given[0].strip())
    if matched is None:
        raise Problem(INVALID_REQUEST, f"{HEADER} must be 16 to 255 visible characters: a UUID, or 128 random "
                                       "bits", errors=[{"location": "header", "name": HEADER,
                                                        "detail": "16 to 255 visible characters"}])
    scope = request.scope
    material = b"\0".join([scope["method"].encode(), scope["path"].encode(),
                           b"&".join(sorted(scope["query_string"].split(b"&"))), body])
    return Once(answers, getattr(request.state, "client", ""), matched.group(1), material)


def _response(result: Any) -> Response:
    return result if isinstance(result, Response) else json_response(jsonable_encoder(result))


def at_most_once(request: Request, answers: Answers | None, body: bytes, work: Callable[[], Any]) -> Any:
    """``work()``, or under the request's ``Idempotency-Key`` the answer its first run gave."""
    kept = once(request, answers, body)
    return work() if kept is None else kept.run(work)
