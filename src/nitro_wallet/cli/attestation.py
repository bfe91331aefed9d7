"""`nitro-wallet attestation verify`: check a Nitro attestation document and print what it attests."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from nitro_wallet.attestation import document, roots, verify
from nitro_wallet.cli import options
from nitro_wallet.wire.errors import AttestationError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("attestation", help="verify attestation documents")
    sub = group.add_subparsers(dest="attestation_command", required=True, metavar="COMMAND")
    check = sub.add_parser("verify", help="verify an attestation document (raw CBOR or base64)")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument(
        "--root",
        default="aws",
        metavar="aws|dev|PATH",
        help="trust root: the AWS Nitro root G1 (default), the state directory's dev root, or a certificate",
    )
    options.add_state_dir(check)
    check.add_argument(
        "--at-document-time",
        action="store_true",
        help="check certificate validity at the document's own timestamp instead of now",
    )
    check.add_argument(
        "--expect-pcr",
        action="append",
        default=[],
        type=options.pcr_expectation,
        metavar="N=HEX",
        help="require PCR N to equal HEX (repeatable)",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(run=run_verify)


def read_document(path: Path) -> bytes:
    """Raw CBOR as is; anything else is taken as base64 (whitespace ignored)."""
    data = path.read_bytes()
    if data[:1] in (b"\x84", b"\xd2"):  # untagged COSE_Sign1 array, or tag 18
        return data
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except binascii.Error:
        raise AttestationError(f"{path} is neither CBOR nor base64") from None


def run_verify(args: argparse.Namespace) -> int:
    try:
        root = roots.load_root(args.root, state_dir=options.state_dir(args))
    except (ValueError, OSError) as exc:
        print(f"error: --root {args.root}: {exc}", file=sys.stderr)
        return options.EXIT_USAGE
    report: dict[str, Any] = {"file": str(args.file), "root": root.subject.rfc4514_string()}
    try:
        data = read_document(args.file)
        report.update(_describe(document.parse(data).document))
        verify.verify(
            data,
            [root],
            at_document_time=args.at_document_time,
            expect=verify.Expectations(pcrs=dict(args.expect_pcr)),
        )
    except (AttestationError, OSError) as exc:
        report.update(valid=False, reason=str(exc))
    else:
        report.update(valid=True, reason=None)
    _print(report, as_json=args.json)
    return options.EXIT_OK if report["valid"] else options.EXIT_FAILED


def _describe(doc: document.AttestationDocument) -> dict[str, Any]:
    def hex_or_none(value: bytes | None) -> str | None:
        return None if value is None else value.hex()

    return {
        "module_id": doc.module_id,
        "timestamp": doc.timestamp,
        "issued_at": doc.issued_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "digest": doc.digest,
        "pcrs": {str(index): doc.pcrs[index].hex() for index in sorted(doc.pcrs)},
        "public_key": hex_or_none(doc.public_key),
        "user_data": hex_or_none(doc.user_data),
        "nonce": hex_or_none(doc.nonce),
    }


def _print(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
        return
    if "module_id" in report:
        print(f"module_id  {report['module_id']}")
        print(f"timestamp  {report['issued_at']} ({report['timestamp']} ms)")
        for index, value in report["pcrs"].items():
            print(f"PCR{index:<7} {value}")
        for name in ("public_key", "user_data", "nonce"):
            value = report[name]
            print(f"{name:<10} {'(none)' if value is None else value}")
    print(f"root       {report['root']}")
    verdict = "VALID" if report["valid"] else f"INVALID: {report['reason']}"
    print(f"verdict    {verdict}", file=sys.stdout if report["valid"] else sys.stderr)
