"""Boot the enclave process: `python -m nitro_wallet.enclave --listen ADDR --nsm device|emulated ...`.

The enclave is its own program, started by module path so that no CLI or host code is ever loaded into it;
before serving, it checks that every nitro_wallet module it holds belongs to its measured image.

Its configuration (the KMS endpoint, region and key) is part of that image: the emulation measures it into
PCR0 and PCR2, as baking it into an EIF would, so pointing an enclave at another KMS or key changes its
identity.
The NSM is chosen explicitly: `device` (/dev/nsm, production) or `emulated` (development), never inferred.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from nitro_wallet.enclave import measurement
from nitro_wallet.enclave.app import EnclaveApp, Identity
from nitro_wallet.enclave.kms import AttestedKms
from nitro_wallet.enclave.nsm.client import Nsm, NsmDevice
from nitro_wallet.enclave.nsm.device import NsmDriver
from nitro_wallet.enclave.nsm.emulated import EMULATION_WARNING, EmulatedNsm
from nitro_wallet.enclave.rpc import serve
from nitro_wallet.transport.address import parse_address

log = logging.getLogger("nitro_wallet.enclave")

READY_LINE = "enclave listening on"
NSM_KINDS = ("device", "emulated")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m nitro_wallet.enclave", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--listen", required=True, metavar="ADDR", help="vsock:CID:PORT | unix:PATH | tcp:HOST:PORT"
    )
    parser.add_argument("--nsm", required=True, choices=NSM_KINDS, help="the Nitro Secure Module to use")
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="emulated NSM only: dev CA and instance id"
    )
    parser.add_argument(
        "--debug-mode",
        action="store_true",
        help="emulated NSM only: all-zero PCR0/1/2, as a debug-mode enclave",
    )
    parser.add_argument("--iam-role-arn", metavar="ARN", help="emulated NSM only: the parent's role (PCR3)")
    parser.add_argument("--kms-endpoint", required=True, metavar="URL", help="measured: where KMS is reached")
    parser.add_argument("--kms-region", required=True, metavar="REGION", help="measured: the KMS region")
    parser.add_argument(
        "--kms-key-arn", required=True, metavar="ARN", help="measured: the KMS key of data keys"
    )
    args = parser.parse_args(argv)
    if args.nsm == "emulated" and args.state_dir is None:
        parser.error("--nsm emulated needs --state-dir")
    if args.nsm == "device" and (args.debug_mode or args.state_dir or args.iam_role_arn):
        parser.error("--debug-mode, --state-dir and --iam-role-arn only apply to --nsm emulated")
    if args.nsm == "device" and not args.kms_endpoint.startswith("https://"):
        parser.error(
            "--nsm device needs an https:// KMS endpoint: CiphertextForRecipient has no integrity of its own"
        )
    return args


def image_config(args: argparse.Namespace) -> dict[str, str]:
    """The configuration baked into the enclave image (measured into PCR0/PCR2 by the emulation)."""
    return measurement.image_config(
        kms_endpoint=args.kms_endpoint, kms_region=args.kms_region, kms_key_arn=args.kms_key_arn
    )


# What could steer the enclave's AWS client from outside its measured configuration.
SCRUBBED_VARIABLES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    | {"SSL_CERT_FILE", "SSL_CERT_DIR"}
)


def interpreter_problems() -> list[str]:
    """Why this interpreter could run something other than the measured source files."""
    problems = []
    if not sys.flags.isolated:
        problems.append("not isolated (-I): PYTHON* variables and the current directory reach sys.path")
    cache = sys.pycache_prefix
    if cache is None or Path(cache).resolve().is_relative_to(measurement.package_root()):
        problems.append("bytecode may be read from __pycache__ (-X pycache_prefix=<private dir> missing)")
    return problems


def scrub_environment() -> None:
    """The enclave's environment is its own, as an EIF's: no AWS or proxy settings from the launcher."""
    for name in list(os.environ):
        if name.upper().startswith("AWS_") or name.upper() in SCRUBBED_VARIABLES:
            del os.environ[name]
    os.environ.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


def unmeasured_modules() -> list[str]:
    """nitro_wallet modules loaded in this process that are not part of the measured image: outside its
    packages, or not loaded from a .py file of the measured tree (an extension module, another path)."""
    root = measurement.package_root()
    stray = []
    for name, module in list(sys.modules.items()):
        if name != "nitro_wallet" and not name.startswith("nitro_wallet."):
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        from_tree = origin.endswith(".py") and Path(origin).resolve().is_relative_to(root)
        if not measurement.is_measured_module(name) or not from_tree:
            stray.append(name)
    return sorted(stray)


def open_nsm(args: argparse.Namespace) -> NsmDevice:
    if args.nsm == "device":
        return NsmDriver()
    banner = "!" * 100
    print(f"{banner}\n{EMULATION_WARNING}\n{banner}", file=sys.stderr, flush=True)
    measured = measurement.measure(image_config(args))
    return EmulatedNsm.create(
        args.state_dir, measurement=measured, debug=args.debug_mode, iam_role_arn=args.iam_role_arn
    )


async def run(app: EnclaveApp, listen: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await serve(parse_address(listen), app.handle)
    print(f"{READY_LINE} {server.address}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="enclave %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    problems = interpreter_problems()
    if problems:
        print(f"enclave refuses to start: {'; '.join(problems)}", file=sys.stderr)
        return 1
    scrub_environment()
    stray = unmeasured_modules()
    if stray:
        print(f"enclave refuses to start: unmeasured code is loaded: {', '.join(stray)}", file=sys.stderr)
        return 1
    nsm = Nsm(open_nsm(args))
    # a real debug-mode enclave is started so by nitro-cli; it shows as an all-zero PCR0
    debug = args.debug_mode if args.nsm == "emulated" else nsm.describe_pcr(0).value == bytes(48)
    kms = AttestedKms(nsm, endpoint_url=args.kms_endpoint, region=args.kms_region, key_arn=args.kms_key_arn)
    app = EnclaveApp(nsm, kms, Identity(nsm_kind=args.nsm, debug=debug))
    asyncio.run(run(app, args.listen))
    return 0
