"""The enclave's own high-water marks: each rule refuses what it must (and only it would), marks move only
when a signature is produced, and racing requests for one validator never yield two conflicting signatures.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle

from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.eth2.keyring import ValidatorKeyring
from nitro_wallet.enclave.eth2.signing import AttestationVote, BlockProposal, SigningRequest, SigningType
from nitro_wallet.enclave.eth2.watermarks import MAX_MARK, MAX_WATERMARKED_VALIDATORS, Watermarks
from nitro_wallet.wire.errors import BadRequest, Overloaded, SlashingProtection

ALICE = b"\xa1" * 48
BOB = b"\xb0" * 48
GVR = b"\x4b" * 32


def root(tag: int) -> bytes:
    return tag.to_bytes(32, "big")


def block(slot: int, tag: int = 0) -> SigningRequest:
    return SigningRequest(SigningType.BLOCK_V2, root(tag), GVR, BlockProposal(slot), None)


def attestation(source: int, target: int, tag: int = 0) -> SigningRequest:
    return SigningRequest(SigningType.ATTESTATION, root(tag), GVR, None, AttestationVote(source, target))


def other(signing_type: SigningType, tag: int = 0) -> SigningRequest:
    return SigningRequest(signing_type, root(tag), GVR, None, None)


class Signer:
    """Stands in for the keyring: counts the signatures it produces; fails when told to."""

    def __init__(self) -> None:
        self.produced: list[bytes] = []
        self.fail = False

    def __call__(self, request: SigningRequest) -> Callable[[], bytes]:
        def sign() -> bytes:
            if self.fail:
                raise RuntimeError("the keyring failed")
            self.produced.append(request.signing_root)
            return b"signature of " + request.signing_root

        return sign


@pytest.fixture
def marks() -> Watermarks:
    return Watermarks()


@pytest.fixture
def signer() -> Signer:
    return Signer()


def guard(marks: Watermarks, signer: Signer, request: SigningRequest, pubkey: bytes = ALICE) -> bytes:
    return marks.guard(pubkey, request, signer(request))


def refused(
    marks: Watermarks, signer: Signer, request: SigningRequest, pubkey: bytes = ALICE
) -> SlashingProtection:
    before = len(signer.produced)
    with pytest.raises(SlashingProtection) as caught:
        guard(marks, signer, request, pubkey)
    assert len(signer.produced) == before  # nothing was signed
    return caught.value


# --- blocks ------------------------------------------------------------------------------------------------


def test_a_block_below_the_highest_signed_slot_is_refused(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, block(100))
    error = refused(marks, signer, block(99, tag=1))
    assert "slot 99 is below slot 100" in error.message
    assert error.field == "slot"
    guard(marks, signer, block(101, tag=2))
    refused(marks, signer, block(100))  # the mark moved to 101: even the block signed at 100 is now below


def test_a_different_block_at_the_signed_slot_is_refused(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, block(100, tag=1))
    error = refused(marks, signer, block(100, tag=2))
    assert "different block at slot 100" in error.message


def test_the_identical_block_may_be_signed_again(marks: Watermarks, signer: Signer) -> None:
    first = guard(marks, signer, block(100, tag=1))
    assert guard(marks, signer, block(100, tag=1)) == first
    assert len(signer.produced) == 2


# --- attestations ------------------------------------------------------------------------------------------


def test_source_after_target_is_refused(marks: Watermarks, signer: Signer) -> None:
    error = refused(marks, signer, attestation(11, 10))  # no marks yet: only this rule stands in the way
    assert "source epoch 11 is after target epoch 10" in error.message
    assert error.field == "attestation.source.epoch"
    guard(marks, signer, attestation(10, 10))


def test_a_target_below_the_highest_signed_target_is_refused(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, attestation(5, 10))
    error = refused(marks, signer, attestation(5, 9, tag=1))  # source not below: only the target rule
    assert "target epoch 9 is below epoch 10" in error.message
    assert error.field == "attestation.target.epoch"
    refused(marks, signer, attestation(6, 9, tag=2))  # surrounded by (5, 10)


def test_a_double_vote_is_refused(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, attestation(5, 10, tag=1))
    error = refused(marks, signer, attestation(5, 10, tag=2))
    assert "different attestation with target epoch 10" in error.message
    refused(marks, signer, attestation(6, 10, tag=3))


def test_the_identical_attestation_may_be_signed_again(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, attestation(5, 10, tag=1))
    guard(marks, signer, attestation(5, 10, tag=1))
    assert len(signer.produced) == 2


def test_a_source_below_the_highest_signed_source_is_refused(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, attestation(5, 10))
    error = refused(marks, signer, attestation(4, 11, tag=1))  # surrounds (5, 10); its target is new
    assert "source epoch 4 is below epoch 5" in error.message
    assert error.field == "attestation.source.epoch"
    guard(marks, signer, attestation(8, 12, tag=2))
    refused(marks, signer, attestation(7, 13, tag=3))  # the source mark moved to 8


def test_votes_that_move_forward_are_signed(marks: Watermarks, signer: Signer) -> None:
    for source, target in [(0, 1), (1, 2), (1, 3), (3, 3), (3, 7)]:
        guard(marks, signer, attestation(source, target, tag=target))
    assert len(signer.produced) == 5


# --- what the marks cover ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signing_type",
    [t for t in SigningType if t not in (SigningType.BLOCK, SigningType.BLOCK_V2, SigningType.ATTESTATION)],
)
def test_other_types_have_no_marks(marks: Watermarks, signer: Signer, signing_type: SigningType) -> None:
    for tag in (2, 1, 1, 0):
        guard(marks, signer, other(signing_type, tag))
    assert len(signer.produced) == 4
    assert len(marks) == 0


def test_marks_are_per_validator_and_per_kind(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, block(100), ALICE)
    guard(marks, signer, attestation(50, 60), ALICE)
    guard(marks, signer, block(1), BOB)  # another validator: its own marks
    guard(marks, signer, attestation(1, 2), BOB)
    guard(marks, signer, attestation(50, 61, tag=1), ALICE)  # an attestation does not move the block mark
    guard(marks, signer, block(101, tag=1), ALICE)
    assert len(marks) == 2


def test_marks_move_only_when_a_signature_is_produced(marks: Watermarks, signer: Signer) -> None:
    signer.fail = True
    with pytest.raises(RuntimeError):
        guard(marks, signer, attestation(5, 10))
    with pytest.raises(RuntimeError):
        guard(marks, signer, block(100))
    assert len(marks) == 0  # a new validator's record is kept only once something was signed
    signer.fail = False
    guard(marks, signer, attestation(4, 9, tag=1))
    guard(marks, signer, block(99, tag=1))
    signer.fail = True
    with pytest.raises(RuntimeError):
        guard(marks, signer, attestation(5, 10, tag=2))
    signer.fail = False
    guard(marks, signer, attestation(4, 9, tag=1))  # the failed one did not move the marks


def test_a_refused_request_does_not_move_the_marks(marks: Watermarks, signer: Signer) -> None:
    guard(marks, signer, attestation(5, 10))
    refused(marks, signer, attestation(4, 12, tag=1))  # had it moved the target mark to 12 ...
    guard(marks, signer, attestation(5, 11, tag=2))  # ... this would be refused
    guard(marks, signer, block(100, tag=1))
    refused(marks, signer, block(100, tag=2))  # had it replaced the root signed at slot 100 ...
    guard(marks, signer, block(100, tag=1))  # ... this would be refused


# --- bounds ------------------------------------------------------------------------------------------------


def test_at_most_n_validators_are_tracked(signer: Signer) -> None:
    assert MAX_WATERMARKED_VALIDATORS == 1_000_000
    marks = Watermarks(max_validators=2)
    guard(marks, signer, attestation(1, 2), ALICE)
    guard(marks, signer, block(5), BOB)  # N validators
    carol = b"\xca" * 48
    with pytest.raises(Overloaded) as caught:
        guard(marks, signer, attestation(1, 2), carol)  # N + 1
    assert "at most 2 validators" in caught.value.message
    assert caught.value.field == "pubkey"
    guard(marks, signer, other(SigningType.RANDAO_REVEAL), carol)  # no marks needed
    guard(marks, signer, attestation(2, 3, tag=1), ALICE)  # the tracked ones still sign
    refused(marks, signer, block(4, tag=1), BOB)  # and keep their marks
    assert len(marks) == 2


# --- races -------------------------------------------------------------------------------------------------


def test_racing_conflicting_attestations_yield_one_signature(
    build_keystore: Callable[..., dict[str, object]], random_secret: Callable[[], bytes]
) -> None:
    """Many threads, released together, ask for different attestations with one target for one validator:
    exactly one is signed. Each signature is a real one, after work that drops the GIL (as a binding may),
    so that without the lock the other threads would run their checks inside the check-to-record window."""
    data_key = os.urandom(32)
    keyring = ValidatorKeyring(lambda _ref: data_key, os.urandom)
    sealed = keyring.import_keystore(build_keystore(random_secret(), "pw"), "pw", key_ref(os.urandom(64)))
    marks = Watermarks()
    threads_count = 12
    start = threading.Barrier(threads_count)
    signatures: list[tuple[bytes, bytes]] = []
    refusals: list[SlashingProtection] = []
    lock = threading.Lock()

    def sign(signing_root: bytes) -> bytes:
        hashlib.pbkdf2_hmac("sha256", signing_root, b"salt", 2000)
        return keyring.sign_root(sealed, signing_root)

    def race(tag: int) -> None:
        request = attestation(5, 10, tag=tag)
        start.wait()
        try:
            signature = marks.guard(sealed.pubkey, request, lambda: sign(request.signing_root))
        except SlashingProtection as error:
            with lock:
                refusals.append(error)
            return
        with lock:
            signatures.append((request.signing_root, signature))

    threads = [threading.Thread(target=race, args=(tag,)) for tag in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(signatures) == 1
    assert len(refusals) == threads_count - 1
    ((signed_root, signature),) = signatures
    assert Oracle.Verify(sealed.pubkey, signed_root, signature)


@pytest.mark.parametrize(
    ("request_at", "field"),
    [
        (block, "slot"),
        (lambda value: attestation(0, value), "target_epoch"),
        (lambda value: attestation(value, value), "source_epoch"),
    ],
)
def test_a_slot_or_epoch_the_database_cannot_record_moves_no_mark(
    marks: Watermarks, signer: Signer, request_at: Callable[[int], SigningRequest], field: str
) -> None:
    guard(marks, signer, request_at(MAX_MARK))  # the largest recordable value is signed
    with pytest.raises(BadRequest) as caught:
        guard(marks, signer, request_at(MAX_MARK + 1), pubkey=b"\xb0" * 48)
    assert caught.value.field == field
    guard(marks, signer, request_at(5), pubkey=b"\xb0" * 48)  # nothing moved for that validator
