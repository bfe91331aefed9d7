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
import re
import signal
import sys
import sysconfig
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
KEY_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):[0-9]{12}:key/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
)
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
    parser.add_argument(
        "--role", choices=measurement.ROLES, default=measurement.DEFAULT_ROLE, help="measured: what it does"
    )
    parser.add_argument(
        "--reference-kms-key-arn", metavar="ARN", help="measured: the AWS reference's key, to migrate from"
    )
    args = parser.parse_args(argv)
    for option, value in (
        ("--kms-key-arn", args.kms_key_arn),
        ("--reference-kms-key-arn", args.reference_kms_key_arn),
    ):
        arn = None if value is None else KEY_ARN.fullmatch(value)
        if value is not None and (arn is None or arn["region"] != args.kms_region):
            parser.error(f"{option} must be a key ARN arn:aws:kms:{args.kms_region}:<account>:key/<id>")
    if args.role == "generator" and args.reference_kms_key_arn is not None:
        parser.error("--reference-kms-key-arn: a generator holds no data key, so it cannot migrate keys")
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
        kms_endpoint=args.kms_endpoint,
        kms_region=args.kms_region,
        kms_key_arn=args.kms_key_arn,
        role=args.role,
        reference_kms_key_arn=args.reference_kms_key_arn,
    )


# The enclave's environment is fixed, as an EIF's is: anything else (OPENSSL_CONF, AWS_*, proxies, key log
# files, plugin lists) could change what runs or where it connects, so its presence refuses the boot.
ALLOWED_ENVIRONMENT = frozenset({"PATH", "LANG", "LC_ALL", "LC_CTYPE"})


def interpreter_problems() -> list[str]:
    """Why this interpreter could run something other than the measured source files."""
    problems = []
    if not sys.flags.isolated:
        problems.append("not isolated (-I): PYTHON* variables and the current directory reach sys.path")
    cache = None if sys.pycache_prefix is None else Path(sys.pycache_prefix).resolve()
    root = measurement.package_root().resolve()
    if (
        cache is None
        or cache == Path(cache.anchor)
        or cache.is_relative_to(root)
        or root.is_relative_to(cache)
    ):
        problems.append("bytecode may be read beside the sources (-X pycache_prefix=<private dir> missing)")
    stray = sorted(set(os.environ) - ALLOWED_ENVIRONMENT)
    if stray:
        problems.append(f"environment variables outside {sorted(ALLOWED_ENVIRONMENT)}: {', '.join(stray)}")
    return problems


def unmeasured_modules() -> list[str]:
    """Loaded modules that are not part of the measured image: nitro_wallet modules (and the main module)
    must be files of the measured tree, every other module a file of a measured distribution or of the
    standard library, compared path for path (a symlink or an import hook's origin does not match).
    Modules without a file (compiled in, the launcher's -c program, or made in memory by checked code)
    carry no code from disk and pass."""
    measured = {path for _, path in measurement.measured_files()}
    runtime = measurement.runtime_files()
    stdlib = tuple(Path(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib"))

    def allowed(name: str, path: Path) -> bool:
        if name in ("__main__", "__mp_main__"):
            return path in measured
        if name == "nitro_wallet" or name.startswith("nitro_wallet."):
            return path in measured and measurement.is_measured_module(name)
        in_stdlib = any(path.is_relative_to(d) for d in stdlib) and "site-packages" not in path.parts
        return path in runtime or in_stdlib

    stray = []
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) or getattr(module, "__file__", None)
        if origin is None or origin in ("built-in", "frozen"):
            if name == "nitro_wallet" or name.startswith("nitro_wallet."):
                stray.append(name)  # our modules always come from files
            continue
        if not allowed(name, Path(origin)):
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
    try:
        stray = unmeasured_modules()
    except (ValueError, FileNotFoundError) as exc:  # the measured tree itself is unsound
        print(f"enclave refuses to start: {exc}", file=sys.stderr)
        return 1
    if stray:
        print(f"enclave refuses to start: unmeasured code is loaded: {', '.join(stray)}", file=sys.stderr)
        return 1
    nsm = Nsm(open_nsm(args))
    # a real debug-mode enclave is started so by nitro-cli; it shows as an all-zero PCR0
    debug = args.debug_mode if args.nsm == "emulated" else nsm.describe_pcr(0).value == bytes(48)
    kms = AttestedKms(
        nsm,
        endpoint_url=args.kms_endpoint,
        region=args.kms_region,
        key_arn=args.kms_key_arn,
        reference_key_arn=args.reference_kms_key_arn,
    )
    app = EnclaveApp(nsm, kms, Identity(nsm_kind=args.nsm, debug=debug, role=args.role))
    asyncio.run(run(app, args.listen))
    return 0
