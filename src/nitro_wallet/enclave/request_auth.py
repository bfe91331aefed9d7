"""The enclave's check of an authenticated request: timestamp window, HMAC, and (v1) the replay guard.

`verify_request` runs, in this order: the timestamp within MAX_CLOCK_SKEW_SECONDS of the enclave's clock,
in both directions (the reference bounds only the past); the HMAC of the scheme, compared in constant
time; and for v1 the nonce, recorded in the ReplayGuard only once the HMAC matched, so that requests
nobody authenticated can neither burn a client's nonce nor fill the guard.

Reference-compatibility mode (AuthScheme.REFERENCE) checks only the window and the HMAC. It has NO
replay protection inside the window: whoever sees a request may resend it, unchanged, until its timestamp
leaves the window, and the enclave signs it again. Identical requests sent back to back therefore all
succeed, as the reference's load test expects. Clients that keep their secret use v1.

The wire formats of both schemes are documented in `nitro_wallet.wire.request_auth`.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
import time
from collections.abc import Callable
from hmac import compare_digest

from nitro_wallet.wire.errors import BadRequest, Denied, Overloaded
from nitro_wallet.wire.request_auth import (
    HMAC_HEX_CHARS,
    MAX_CLOCK_SKEW_SECONDS,
    AuthScheme,
    reference_hmac,
    reference_hmac_canonical,
    request_hmac,
    request_hmac_canonical,
)

# A nonce is remembered until its timestamp leaves the window: at most 2 * 60 s after it arrives, ~60 s
# for a client with a good clock. 5,000 requests/s (the throughput target) for 120 s is 600,000 entries;
# at ~90 bytes each (a 16-byte digest in a set and in an expiry bucket) the bound costs ~90 MB when full.
MAX_REMEMBERED_NONCES = 1_000_000
# The digests are spread over this many sets (by their first byte), so that no set grows past ~1/64 of
# the guard: a set that outgrows its table rehashes every entry at once, ~25 ms for 300,000 of them, a
# pause every signature waiting behind it would share; 64 smaller sets pause ~0.5 ms each instead.
SEEN_SHARDS = 64

Clock = Callable[[], float]
_HEX_DIGITS = frozenset("0123456789abcdef")


class ReplayGuard:
    """The (key id, nonce) pairs whose timestamps are still inside the window; refuses a second use.

    Memory is bounded by `capacity`: when it is full of unexpired entries, new nonces are refused
    (Overloaded) rather than older ones forgotten. An entry is dropped once its timestamp has left the
    window, judged by the latest time the guard has been given, so a clock stepping back cannot revive a
    nonce the guard no longer remembers. Thread-safe.
    """

    def __init__(
        self, *, capacity: int = MAX_REMEMBERED_NONCES, window_seconds: int = MAX_CLOCK_SKEW_SECONDS
    ) -> None:
        if capacity < 1 or window_seconds < 0:
            raise ValueError("capacity must be positive and window_seconds non-negative")
        self.capacity = capacity
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._seen: list[set[bytes]] = [set() for _ in range(SEEN_SHARDS)]  # by the digest's first byte
        self._count = 0  # digests in all of _seen
        self._buckets: dict[int, list[bytes]] = {}  # expiry second -> digests expiring then
        self._expiries: list[int] = []  # heap of the keys of _buckets
        self._latest_now = 0  # the latest `now` given, in seconds since the epoch

    def __len__(self) -> int:
        with self._lock:
            return self._count

    def __repr__(self) -> str:
        return f"ReplayGuard(remembered={len(self)}, capacity={self.capacity})"

    def remember(self, key_id: str, nonce: str, timestamp: int, now: int) -> None:
        """Record the first use of `nonce` for `key_id`; Denied if it was used already."""
        # The nonce alphabet has no LF, so the pair reads back from these bytes in exactly one way.
        digest = hashlib.blake2b(
            f"{key_id}\n{nonce}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        expiry = timestamp + self.window_seconds
        with self._lock:
            self._latest_now = max(self._latest_now, now)
            self._forget_expired()
            if expiry < self._latest_now:
                behind = self._latest_now - timestamp
                raise Denied(
                    f"request timestamp is {behind} s before the latest time the enclave has seen; "
                    f"at most {self.window_seconds} s is allowed",
                    field="timestamp",
                )
            seen = self._seen[digest[0] % SEEN_SHARDS]
            if digest in seen:
                raise Denied("nonce already used", field="nonce")
            if self._count >= self.capacity:
                raise Overloaded(
                    f"replay guard is full ({self.capacity} unexpired nonces); new nonces are refused "
                    f"until older ones leave the {self.window_seconds} s window",
                    field="nonce",
                )
            seen.add(digest)
            self._count += 1
            bucket = self._buckets.get(expiry)
            if bucket is None:
                self._buckets[expiry] = bucket = []
                heapq.heappush(self._expiries, expiry)
            bucket.append(digest)

    def _forget_expired(self) -> None:
        while self._expiries and self._expiries[0] < self._latest_now:
            expired = self._buckets.pop(heapq.heappop(self._expiries))
            seen, shards = self._seen, SEEN_SHARDS
            for digest in expired:
                seen[digest[0] % shards].discard(digest)
            self._count -= len(expired)


def check_timestamp(timestamp: int, now: int) -> None:
    """Denied unless `timestamp` is within MAX_CLOCK_SKEW_SECONDS of `now`, either way."""
    if type(timestamp) is not int:
        raise BadRequest("timestamp must be an integer number of seconds", field="timestamp")
    ahead = timestamp - now
    if ahead > MAX_CLOCK_SKEW_SECONDS:
        direction, seconds = "in the future", ahead
    elif -ahead > MAX_CLOCK_SKEW_SECONDS:
        direction, seconds = "in the past", -ahead
    else:
        return
    raise Denied(
        f"request timestamp is {seconds} s {direction}; at most {MAX_CLOCK_SKEW_SECONDS} s is allowed",
        field="timestamp",
    )


def _check_hmac(expected: str, given: str) -> None:
    if type(given) is not str or len(given) != HMAC_HEX_CHARS or not _HEX_DIGITS.issuperset(given):
        raise Denied(f"hmac must be {HMAC_HEX_CHARS} lower-case hexadecimal characters", field="hmac")
    if not compare_digest(expected.encode("ascii"), given.encode("ascii")):
        raise Denied("HMAC does not match", field="hmac")


def _text(payload_text: str | None) -> str:
    if payload_text is None:
        raise TypeError("give exactly one of payload_text and canonical_payload")
    return payload_text


def verify_request(
    *,
    scheme: AuthScheme,
    secret: str,
    key_id: str,
    timestamp: int,
    hmac_hex: str,
    guard: ReplayGuard,
    payload_text: str | None = None,
    canonical_payload: bytes | None = None,
    operation: str | None = None,
    nonce: str | None = None,
    clock: Clock = time.time,
) -> None:
    """Return if the request is authentic and fresh; raise Denied (or BadRequest, Overloaded) otherwise.

    The payload comes as its text or, when the caller has decoded it already, as its canonical bytes
    (`canonical_encode`): exactly one of `payload_text` and `canonical_payload`. `operation` and `nonce`
    belong to v1 and must be None for the reference scheme, which binds neither them nor `key_id`.
    """
    if (payload_text is None) == (canonical_payload is None):
        raise TypeError("give exactly one of payload_text and canonical_payload")
    try:
        scheme = AuthScheme(scheme)
    except ValueError:
        raise BadRequest("unknown authentication scheme", field="scheme") from None
    now = math.floor(clock())
    check_timestamp(timestamp, now)
    if scheme is AuthScheme.REFERENCE:
        for name, value in (("operation", operation), ("nonce", nonce)):
            if value is not None:
                raise BadRequest(f"the reference scheme has no {name}", field=name)
        if canonical_payload is not None:
            expected = reference_hmac_canonical(secret, canonical_payload, timestamp)
        else:
            expected = reference_hmac(secret, _text(payload_text), timestamp)
        _check_hmac(expected, hmac_hex)
        return
    if operation is None or nonce is None:
        missing = "operation" if operation is None else "nonce"
        raise BadRequest(f"{missing} is required by the v1 scheme", field=missing)
    if canonical_payload is not None:
        expected = request_hmac_canonical(
            secret, canonical_payload, timestamp, nonce, key_id=key_id, operation=operation
        )
    else:
        text = _text(payload_text)
        expected = request_hmac(secret, text, timestamp, nonce, key_id=key_id, operation=operation)
    _check_hmac(expected, hmac_hex)
    guard.remember(key_id, nonce, timestamp, now)
