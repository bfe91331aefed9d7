"""`nitro-wallet enclave ...`: start, measure and query the enclave.

`run` replaces this process with `python -m nitro_wallet.enclave` so that none of the CLI's (host) modules
are loaded in the enclave; `measure` prints the PCRs an emulated enclave would boot with (the counterpart
of `nitro-cli describe-eif`); `describe` and `attest` ask a running enclave over its socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from nitro_wallet.cli import options
from nitro_wallet.enclave import measurement
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.stack import launch
from nitro_wallet.wire.errors import NitroWalletError

DEFAULT_REGION = "us-east-1"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("enclave", help="start, measure and query the enclave")
    sub = group.add_subparsers(dest="enclave_command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the enclave process (replaces this process)")
    run.add_argument(
        "--listen", required=True, metavar="ADDR", help="vsock:CID:PORT | unix:PATH | tcp:HOST:PORT"
    )
    run.add_argument("--nsm", required=True, choices=("device", "emulated"), help="the NSM: real or emulated")
    options.add_state_dir(run)
    run.add_argument("--debug-mode", action="store_true", help="emulated only: all-zero PCR0/1/2")
    _add_image_config(run)
    run.set_defaults(run=run_enclave)

    measure = sub.add_parser("measure", help="print the PCRs of the local enclave image (JSON)")
    _add_image_config(measure)
    measure.set_defaults(run=run_measure)

    describe = sub.add_parser("describe", help="ask a running enclave what it is (JSON)")
    describe.add_argument("--connect", required=True, metavar="ADDR")
    describe.set_defaults(run=run_describe)

    attest = sub.add_parser("attest", help="fetch a fresh attestation document from a running enclave")
    attest.add_argument("--connect", required=True, metavar="ADDR")
    attest.add_argument("--nonce", metavar="HEX", help="the nonce to attest (default: 32 random bytes)")
    attest.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="where to write the CBOR document"
    )
    attest.set_defaults(run=run_attest)


def _add_image_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kms-endpoint", required=True, metavar="URL", help="measured: where the enclave reaches KMS"
    )
    parser.add_argument(
        "--kms-region", default=DEFAULT_REGION, help="measured: the KMS region (default: %(default)s)"
    )
    parser.add_argument(
        "--kms-key-arn", required=True, metavar="ARN", help="measured: the KMS key that wraps data keys"
    )
    parser.add_argument(
        "--role",
        choices=measurement.ROLES,
        default=measurement.DEFAULT_ROLE,
        help="measured: one enclave does all (wallet), or the split layout's generator / signer",
    )
    parser.add_argument(
        "--reference-kms-key-arn",
        metavar="ARN",
        help="measured: the AWS reference's KMS key, whose per-key ciphertexts keys.migrate reads",
    )


def image_config(args: argparse.Namespace) -> dict[str, str]:
    """The enclave image's measured configuration, as `python -m nitro_wallet.enclave` builds it."""
    return measurement.image_config(
        kms_endpoint=args.kms_endpoint,
        kms_region=args.kms_region,
        kms_key_arn=args.kms_key_arn,
        role=args.role,
        reference_kms_key_arn=args.reference_kms_key_arn,
    )


def run_enclave(args: argparse.Namespace) -> int:
    state_dir = options.state_dir(args)
    argv = launch.enclave_argv(
        args.listen,
        image_config(args),
        bytecode_cache=state_dir / launch.BYTECODE_CACHE,
        nsm=args.nsm,
        state_dir=state_dir if args.nsm == "emulated" else None,
        debug=args.debug_mode,
    )
    os.execve(sys.executable, argv, launch.enclave_environment())  # noqa: S606 - our interpreter and module


def run_measure(args: argparse.Namespace) -> int:
    measured = measurement.measure(image_config(args))
    print(json.dumps({"Measurements": {"HashAlgorithm": "Sha384 { ... }", **measured.hex()}}, indent=2))
    return options.EXIT_OK


def run_describe(args: argparse.Namespace) -> int:
    async def ask() -> dict[str, object]:
        async with EnclaveChannel(args.connect) as channel:
            described = await EnclaveClient(channel).describe()
        return {
            "module_id": described.module_id,
            "nsm": described.nsm,
            "debug": described.debug,
            "pcrs": {index: value.hex() for index, value in described.pcrs.items()},
        }

    return _print_or_fail(ask)


def run_attest(args: argparse.Namespace) -> int:
    try:
        nonce = bytes.fromhex(args.nonce) if args.nonce else secrets.token_bytes(32)
    except ValueError:
        print("error: --nonce must be hex", file=sys.stderr)
        return options.EXIT_USAGE

    async def ask() -> dict[str, object]:
        async with EnclaveChannel(args.connect) as channel:
            document = await EnclaveClient(channel).attest(nonce)
        args.out.write_bytes(document)
        return {"file": str(args.out), "bytes": len(document), "nonce": nonce.hex()}

    return _print_or_fail(ask)


def _print_or_fail(ask: Callable[[], Coroutine[Any, Any, dict[str, object]]]) -> int:
    try:
        answer = asyncio.run(ask())
    except NitroWalletError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return options.EXIT_FAILED
    print(json.dumps(answer, indent=2))
    return options.EXIT_OK
