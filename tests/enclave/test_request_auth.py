"""The enclave's request check: the timestamp window both ways, the HMAC, and v1's replay guard."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from nitro_wallet.enclave.request_auth import (
    MAX_REMEMBERED_NONCES,
    SEEN_SHARDS,
    ReplayGuard,
    verify_request,
)
from nitro_wallet.wire.errors import BadRequest, Denied, NitroWalletError, Overloaded
from nitro_wallet.wire.request_auth import (
    MAX_CLOCK_SKEW_SECONDS,
    AuthScheme,
    canonical_json,
    reference_hmac,
    request_hmac,
)

SECRET = "9779d2b8f0bc495b1691ce1a2baf800453e18a58d4eea8bf1fe996a0ab291dba"
KEY_ID = "6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d"
OTHER_KEY_ID = "0b7e9a52-8d41-4c6f-a3e2-5f1d9c8b7a60"
OPERATION = "eth.sign_transaction"
PAYLOAD = '{"chainId":5,"gas":100000,"nonce":0,"to":"0xa5D3241A1591061F2a4bB69CA0215F66520E67cf","type":2}'
NOW = 1_702_632_821
W = MAX_CLOCK_SKEW_SECONDS
CANARY = "CANARY-secret-7f3a9c1e-never-print-me-0123456789"


@dataclass
class ManualClock:
    """The enclave's clock, set by hand: the only way to test windows without sleeping."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


def nonce(index: int) -> str:
    return f"nonce-{index:016d}"


def v1_request(guard: ReplayGuard, clock: ManualClock, **changes: object) -> None:
    """Verify a v1 request that a client holding SECRET made; `changes` alter what reaches the enclave."""
    client = {"secret": SECRET, "key_id": KEY_ID, "operation": OPERATION, "timestamp": NOW, "nonce": nonce(0)}
    client |= {name: value for name, value in changes.items() if name in client and value is not None}
    client_secret = str(changes.get("client_secret", SECRET))
    mac = request_hmac(
        client_secret,
        PAYLOAD,
        int(str(client["timestamp"])),
        str(client["nonce"]),
        key_id=str(client["key_id"]),
        operation=str(client["operation"]),
    )
    arguments: dict[str, object] = {
        "scheme": AuthScheme.V1,
        "secret": SECRET,
        "key_id": client["key_id"],
        "operation": client["operation"],
        "payload_text": PAYLOAD,
        "canonical_payload": None,
        "timestamp": client["timestamp"],
        "nonce": client["nonce"],
        "hmac_hex": mac,
        "guard": guard,
        "clock": clock,
    }
    arguments |= {name: value for name, value in changes.items() if name in arguments}
    verify_request(**arguments)  # type: ignore[arg-type]


def reference_request(guard: ReplayGuard, clock: ManualClock, **changes: object) -> None:
    """Verify a reference request that a client holding SECRET made at `timestamp` (default NOW)."""
    timestamp = changes.get("timestamp", NOW)
    mac_timestamp = timestamp if type(timestamp) is int else NOW
    arguments: dict[str, object] = {
        "scheme": AuthScheme.REFERENCE,
        "secret": SECRET,
        "key_id": KEY_ID,
        "payload_text": PAYLOAD,
        "canonical_payload": None,
        "timestamp": timestamp,
        "hmac_hex": reference_hmac(str(changes.get("client_secret", SECRET)), PAYLOAD, mac_timestamp),
        "operation": None,
        "nonce": None,
        "guard": guard,
        "clock": clock,
    }
    arguments |= {name: value for name, value in changes.items() if name in arguments}
    verify_request(**arguments)  # type: ignore[arg-type]


@pytest.fixture
def guard() -> ReplayGuard:
    return ReplayGuard()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# --- the timestamp window, both directions --------------------------------------------------------------


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
@pytest.mark.parametrize("offset", [-W, -1, 0, 1, W])
def test_timestamps_within_the_window_are_accepted(
    request_kind: object, offset: int, guard: ReplayGuard
) -> None:
    request_kind(guard, ManualClock(NOW - offset), timestamp=NOW)  # type: ignore[operator]


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_timestamp_one_second_in_the_future_beyond_the_window_is_refused(request_kind: object) -> None:
    """The reference accepts any future timestamp; we do not."""
    with pytest.raises(Denied) as caught:
        request_kind(ReplayGuard(), ManualClock(NOW), timestamp=NOW + W + 1)  # type: ignore[operator]
    assert caught.value.message == f"request timestamp is {W + 1} s in the future; at most {W} s is allowed"
    assert caught.value.field == "timestamp"


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_timestamp_one_second_in_the_past_beyond_the_window_is_refused(request_kind: object) -> None:
    with pytest.raises(Denied) as caught:
        request_kind(ReplayGuard(), ManualClock(NOW), timestamp=NOW - W - 1)  # type: ignore[operator]
    assert caught.value.message == f"request timestamp is {W + 1} s in the past; at most {W} s is allowed"


def test_far_future_timestamp_reports_the_distance(guard: ReplayGuard) -> None:
    with pytest.raises(Denied, match=r"^request timestamp is 412 s in the future; at most 60 s is allowed$"):
        reference_request(guard, ManualClock(NOW), timestamp=NOW + 412)


def test_fractional_clock_is_floored_like_gos_unix(guard: ReplayGuard) -> None:
    reference_request(guard, ManualClock(NOW + W + 0.999), timestamp=NOW)
    with pytest.raises(Denied, match="61 s in the past"):
        reference_request(guard, ManualClock(NOW + W + 1.0), timestamp=NOW)


@pytest.mark.parametrize("timestamp", [True, float(NOW), str(NOW), None])
def test_timestamp_must_be_an_integer(timestamp: object, guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(BadRequest, match="timestamp must be an integer"):
        reference_request(guard, clock, timestamp=timestamp)


# --- the HMAC ---------------------------------------------------------------------------------------------


def test_reference_vector_verifies_at_its_own_time(guard: ReplayGuard) -> None:
    payload = '{"userOpHash":"0xf3df4bcb3b24437160ba86a88f41d522662ed994dddd11ac477cfc16e9a71869"}'
    verify_request(
        scheme=AuthScheme.REFERENCE,
        secret=SECRET,
        key_id=KEY_ID,
        payload_text=payload,
        timestamp=1702632823,
        hmac_hex="b9ccfaf082645190ceb443de71b5b534ffc176e78471b0eaec4ed492610d3def",
        guard=guard,
        clock=ManualClock(1702632823 + 5),
    )


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_the_payload_may_come_as_its_canonical_bytes(
    request_kind: object, guard: ReplayGuard, clock: ManualClock
) -> None:
    canonical = canonical_json(PAYLOAD)
    request_kind(guard, clock, payload_text=None, canonical_payload=canonical)  # type: ignore[operator]
    tampered = canonical_json(PAYLOAD.replace('"nonce":0', '"nonce":1'))
    with pytest.raises(Denied, match=r"^HMAC does not match$"):
        request_kind(guard, clock, payload_text=None, canonical_payload=tampered)  # type: ignore[operator]


@pytest.mark.parametrize("payloads", [{}, {"payload_text": PAYLOAD, "canonical_payload": b"{}"}])
def test_exactly_one_form_of_the_payload_is_taken(payloads: dict[str, object], guard: ReplayGuard) -> None:
    arguments: dict[str, object] = {
        "scheme": AuthScheme.REFERENCE,
        "secret": SECRET,
        "key_id": KEY_ID,
        "timestamp": NOW,
        "hmac_hex": reference_hmac(SECRET, PAYLOAD, NOW),
        "guard": guard,
        "clock": ManualClock(),
    }
    with pytest.raises(TypeError, match="exactly one"):
        verify_request(**(arguments | payloads))  # type: ignore[arg-type]


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_wrong_secret_is_denied(request_kind: object, guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(Denied, match=r"^HMAC does not match$") as caught:
        request_kind(guard, clock, client_secret=SECRET + "x")  # type: ignore[operator]
    assert caught.value.field == "hmac"


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_tampered_payload_is_denied(request_kind: object, guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(Denied, match=r"^HMAC does not match$"):
        request_kind(guard, clock, payload_text=PAYLOAD.replace('"nonce":0', '"nonce":1'))  # type: ignore[operator]


@pytest.mark.parametrize(
    "change",
    [
        {"key_id": OTHER_KEY_ID},
        {"operation": "eth.sign_userop"},
        {"nonce": "another-nonce-0001"},
        {"timestamp": NOW + 1},
    ],
)
def test_v1_parts_changed_in_transit_are_denied(
    change: dict[str, object], guard: ReplayGuard, clock: ManualClock
) -> None:
    """The client MACed the defaults; the host altered one part on the way."""
    mac = request_hmac(SECRET, PAYLOAD, NOW, nonce(0), key_id=KEY_ID, operation=OPERATION)
    with pytest.raises(Denied, match=r"^HMAC does not match$"):
        v1_request(guard, clock, hmac_hex=mac, **change)


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
def test_upper_case_hmac_is_denied(request_kind: object, guard: ReplayGuard, clock: ManualClock) -> None:
    mac = request_hmac(SECRET, PAYLOAD, NOW, nonce(0), key_id=KEY_ID, operation=OPERATION)
    if request_kind is reference_request:
        mac = reference_hmac(SECRET, PAYLOAD, NOW)
    with pytest.raises(Denied, match="hmac must be 64 lower-case hexadecimal characters"):
        request_kind(guard, clock, hmac_hex=mac.upper())  # type: ignore[operator]


@pytest.mark.parametrize("request_kind", [v1_request, reference_request])
@pytest.mark.parametrize("cut", [slice(0, 63), slice(0, 0)])
def test_wrong_length_hmac_is_denied(
    request_kind: object, cut: slice, guard: ReplayGuard, clock: ManualClock
) -> None:
    mac = reference_hmac(SECRET, PAYLOAD, NOW)
    with pytest.raises(Denied, match="hmac must be 64 lower-case hexadecimal characters"):
        request_kind(guard, clock, hmac_hex=mac[cut])  # type: ignore[operator]
    with pytest.raises(Denied, match="hmac must be 64 lower-case hexadecimal characters"):
        request_kind(guard, clock, hmac_hex=mac + "0")  # type: ignore[operator]


@pytest.mark.parametrize("bad", ["g" * 64, "é" * 64, "\ud800" * 64, None, b"0" * 64])
def test_non_hex_hmac_is_denied(bad: object, guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(Denied, match="hmac must be 64 lower-case hexadecimal characters"):
        reference_request(guard, clock, hmac_hex=bad)


# --- the reference scheme: no replay protection (the reference's load test depends on it) -------------


def test_identical_reference_requests_back_to_back_all_succeed(
    guard: ReplayGuard, clock: ManualClock
) -> None:
    for _ in range(100):
        reference_request(guard, clock)
    assert len(guard) == 0


def test_reference_scheme_takes_no_nonce_or_operation(guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(BadRequest, match="the reference scheme has no nonce"):
        reference_request(guard, clock, nonce=nonce(0))
    with pytest.raises(BadRequest, match="the reference scheme has no operation"):
        reference_request(guard, clock, operation=OPERATION)


def test_v1_requires_nonce_and_operation(guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(BadRequest, match="nonce is required by the v1 scheme"):
        v1_request(guard, clock, nonce=None)
    with pytest.raises(BadRequest, match="operation is required by the v1 scheme"):
        v1_request(guard, clock, operation=None)


def test_scheme_names_are_accepted_and_unknown_ones_refused(guard: ReplayGuard, clock: ManualClock) -> None:
    reference_request(guard, clock, scheme="reference")
    v1_request(guard, clock, scheme="v1")
    with pytest.raises(BadRequest, match="unknown authentication scheme"):
        reference_request(guard, clock, scheme="v0")


def test_a_v1_mac_does_not_verify_as_a_reference_request(guard: ReplayGuard, clock: ManualClock) -> None:
    mac = request_hmac(SECRET, PAYLOAD, NOW, nonce(0), key_id=KEY_ID, operation=OPERATION)
    with pytest.raises(Denied, match=r"^HMAC does not match$"):
        reference_request(guard, clock, hmac_hex=mac)


# --- v1: the replay guard ---------------------------------------------------------------------------------


def test_same_nonce_twice_is_denied(guard: ReplayGuard, clock: ManualClock) -> None:
    v1_request(guard, clock)
    with pytest.raises(Denied, match=r"^nonce already used$") as caught:
        v1_request(guard, clock)
    assert caught.value.field == "nonce"


def test_same_nonce_for_another_key_is_allowed(guard: ReplayGuard, clock: ManualClock) -> None:
    v1_request(guard, clock)
    v1_request(guard, clock, key_id=OTHER_KEY_ID)
    assert len(guard) == 2


def test_nonce_is_remembered_up_to_the_windows_edge(guard: ReplayGuard) -> None:
    v1_request(guard, ManualClock(NOW))
    with pytest.raises(Denied, match=r"^nonce already used$"):
        v1_request(guard, ManualClock(NOW + W))  # still inside the window: still remembered


def test_expired_entries_are_dropped_and_memory_does_not_grow(guard: ReplayGuard) -> None:
    clock = ManualClock(NOW)
    for index in range(50):
        v1_request(guard, clock, nonce=nonce(index))
    assert len(guard) == 50
    for round_ in range(1, 6):
        clock.now = NOW + round_ * (W + 1)
        for index in range(50):
            v1_request(guard, clock, timestamp=int(clock.now), nonce=nonce(round_ * 100 + index))
        assert len(guard) == 50  # the previous round's 50 left the window and were dropped


def test_many_nonces_are_each_remembered_once_and_all_forgotten_together(guard: ReplayGuard) -> None:
    """Enough nonces to land in every one of the guard's sets (SEEN_SHARDS), several times over."""
    clock = ManualClock(NOW)
    count = SEEN_SHARDS * 16
    for index in range(count):
        v1_request(guard, clock, nonce=nonce(index))
    assert len(guard) == count
    for index in range(0, count, 7):
        with pytest.raises(Denied, match=r"^nonce already used$"):
            v1_request(guard, clock, nonce=nonce(index))
    clock.now = NOW + W + 1
    v1_request(guard, clock, timestamp=int(clock.now), nonce=nonce(count))
    assert len(guard) == 1


def test_replay_after_the_window_is_refused_by_the_window(guard: ReplayGuard) -> None:
    v1_request(guard, ManualClock(NOW))
    with pytest.raises(Denied, match="61 s in the past"):
        v1_request(guard, ManualClock(NOW + W + 1))


def test_a_clock_stepping_back_cannot_revive_a_forgotten_nonce(guard: ReplayGuard) -> None:
    v1_request(guard, ManualClock(NOW))
    v1_request(guard, ManualClock(NOW + W + 1), timestamp=NOW + W + 1, nonce=nonce(1))  # drops nonce(0)
    assert len(guard) == 1
    with pytest.raises(Denied, match="before the latest time the enclave has seen"):
        v1_request(guard, ManualClock(NOW))  # the window alone would accept it again


def test_requests_that_fail_the_hmac_do_not_consume_the_nonce(guard: ReplayGuard, clock: ManualClock) -> None:
    with pytest.raises(Denied, match="HMAC does not match"):
        v1_request(guard, clock, client_secret="attacker-guess-of-the-secret-000000000")
    assert len(guard) == 0
    v1_request(guard, clock)  # the real client's request with that nonce still goes through


def test_requests_outside_the_window_do_not_consume_the_nonce(guard: ReplayGuard) -> None:
    with pytest.raises(Denied):
        v1_request(guard, ManualClock(NOW + W + 1))
    assert len(guard) == 0


def test_capacity_default_and_bound() -> None:
    assert MAX_REMEMBERED_NONCES == 1_000_000
    assert ReplayGuard().capacity == MAX_REMEMBERED_NONCES
    with pytest.raises(ValueError, match="capacity must be positive"):
        ReplayGuard(capacity=0)


def test_guard_holds_exactly_capacity_then_fails_closed() -> None:
    capacity = 8
    guard, clock = ReplayGuard(capacity=capacity), ManualClock(NOW)
    for index in range(capacity):
        v1_request(guard, clock, nonce=nonce(index))
    assert len(guard) == capacity
    with pytest.raises(
        Overloaded, match=r"replay guard is full \(8 unexpired nonces\); new nonces are refused"
    ):
        v1_request(guard, clock, nonce=nonce(capacity))
    assert len(guard) == capacity
    with pytest.raises(Denied, match=r"^nonce already used$"):  # a full guard still recognises replays
        v1_request(guard, clock, nonce=nonce(0))
    clock.now = NOW + W + 1  # the old entries leave the window: room again
    v1_request(guard, clock, timestamp=int(clock.now), nonce=nonce(capacity))
    assert len(guard) == 1


def test_racing_threads_on_one_nonce_exactly_one_wins(guard: ReplayGuard, clock: ManualClock) -> None:
    threads_count = 16
    start = threading.Barrier(threads_count)
    outcomes: list[str] = []
    outcomes_lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        try:
            v1_request(guard, clock)
            outcome = "accepted"
        except Denied as error:
            outcome = error.message
        with outcomes_lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["nonce already used"] * (threads_count - 1)
    assert len(guard) == 1


def test_guard_repr_shows_sizes_only(guard: ReplayGuard, clock: ManualClock) -> None:
    v1_request(guard, clock)
    assert repr(guard) == "ReplayGuard(remembered=1, capacity=1000000)"


# --- secrets never leak -----------------------------------------------------------------------------------


def test_secrets_and_expected_macs_never_appear_in_errors(guard: ReplayGuard, clock: ManualClock) -> None:
    expected_v1 = request_hmac(CANARY, PAYLOAD, NOW, nonce(0), key_id=KEY_ID, operation=OPERATION)
    expected_reference = reference_hmac(CANARY, PAYLOAD, NOW)
    common = {"secret": CANARY, "key_id": KEY_ID, "payload_text": PAYLOAD, "guard": guard, "clock": clock}
    attempts: list[dict[str, object]] = [
        {"scheme": AuthScheme.REFERENCE, "timestamp": NOW, "hmac_hex": "0" * 64},
        {"scheme": AuthScheme.REFERENCE, "timestamp": NOW, "hmac_hex": expected_reference.upper()},
        {"scheme": AuthScheme.REFERENCE, "timestamp": NOW + 500, "hmac_hex": expected_reference},
        {"scheme": AuthScheme.REFERENCE, "timestamp": NOW, "hmac_hex": "0" * 64, "payload_text": "[]"},
        {
            "scheme": AuthScheme.V1,
            "timestamp": NOW,
            "hmac_hex": "0" * 64,
            "operation": OPERATION,
            "nonce": nonce(0),
        },
        {
            "scheme": AuthScheme.V1,
            "timestamp": NOW,
            "hmac_hex": expected_v1,
            "operation": OPERATION,
            "nonce": nonce(0),
        },
        {
            "scheme": AuthScheme.V1,
            "timestamp": NOW,
            "hmac_hex": expected_v1,
            "operation": OPERATION,
            "nonce": nonce(0),
        },
        {
            "scheme": AuthScheme.V1,
            "timestamp": NOW,
            "hmac_hex": "0" * 64,
            "operation": OPERATION,
            "nonce": "x",
        },
    ]
    errors: list[NitroWalletError] = []
    for attempt in attempts:
        try:
            verify_request(**(common | attempt))  # type: ignore[arg-type]
        except NitroWalletError as error:
            errors.append(error)
    assert len(errors) == len(attempts) - 1  # the one good v1 request went through, its replay did not
    for error in errors:
        for shown in (str(error), repr(error), repr(error.args), str(error.field)):
            assert "CANARY" not in shown
            assert expected_v1 not in shown
            assert expected_reference not in shown
    assert "CANARY" not in repr(guard)
