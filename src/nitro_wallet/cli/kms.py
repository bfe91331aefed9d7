"""`nitro-wallet kms ...`: KMS tooling. `kms key-policy` prints a key policy that releases the key only to
an attested enclave; `kms serve` runs the local KMS emulator.

Each sub-command registers itself in `register()` through its own `_register_<name>()` function.
"""

from __future__ import annotations

import argparse
import json
import sys

from nitro_wallet.cli import options
from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from nitro_wallet.kms_emulator import server

# key_policy() parameter -> the option that sets it, so errors name what the user typed
_OPTION_FOR_FIELD = {
    "pcr0": "--pcr0",
    "pcrs": "--pcr",
    "decrypt_principal": "--decrypt-principal",
    "encrypt_principal": "--encrypt-principal",
    "admin_principal": "--admin-principal",
    "generator_pcr0": "--generator-pcr0",
    "generator_principal": "--generator-principal",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("kms", help="KMS tooling: key policies, the local emulator")
    sub = group.add_subparsers(dest="kms_command", required=True, metavar="COMMAND")
    _register_key_policy(sub)
    _register_serve(sub)


def _register_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser(
        "serve",
        help="run the KMS emulator (development only)",
        description="Serve a KMS-compatible API (AWS JSON 1.1, SigV4) on loopback, with state and the "
        "credentials it accepts (DIR/credentials, DIR/config) in the state directory.",
    )
    options.add_state_dir(command)
    command.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    command.add_argument("--port", type=int, default=0, help="listen port; 0 picks a free one (default)")
    command.add_argument(
        "--region", default="us-east-1", help="the region it answers as (default: %(default)s)"
    )
    command.add_argument(
        "--no-dev-root",
        dest="trust_dev_root",
        action="store_false",
        help="trust only the AWS Nitro root for Recipient attestation documents, not the dev root",
    )
    command.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    state_dir = options.state_dir(args)
    state_dir.mkdir(parents=True, exist_ok=True)
    server.run(
        state_dir, host=args.host, port=args.port, region=args.region, trust_dev_root=args.trust_dev_root
    )
    return options.EXIT_OK


def _register_key_policy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser(
        "key-policy",
        help="print a KMS key policy that releases the key only to an attested enclave",
        description="Print (JSON) a KMS key policy: the decrypt principal may Decrypt/GenerateDataKey "
        "only with an attestation document whose PCR0 (and any --pcr) match; the administrator "
        "manages but never uses the key; the encrypt principal may only encrypt.",
    )
    pcr0 = command.add_mutually_exclusive_group()
    pcr0.add_argument("--pcr0", metavar="HEX", help="the enclave image's PCR0 (96 hex characters)")
    pcr0.add_argument(
        "--awaiting-enclave",
        action="store_true",
        help="the policy to CREATE the key with, before its enclave image exists: administration only, "
        "and no one may ever encrypt a data key (a key created with AWS's default policy may already "
        "hold data keys someone knows)",
    )
    pcr0.add_argument(
        "--local-enclave",
        metavar="KMS_ENDPOINT",
        help="use the PCR0 of this machine's enclave image configured with this KMS endpoint "
        "(see `nitro-wallet enclave measure`)",
    )
    command.add_argument(
        "--kms-region",
        default="us-east-1",
        help="with --local-enclave: the image's KMS region (default: %(default)s)",
    )
    command.add_argument(
        "--kms-key-arn", metavar="ARN", help="with --local-enclave: the KMS key the image is configured with"
    )
    command.add_argument(
        "--pcr",
        action="append",
        default=[],
        metavar="N=HEX",
        help="also require PCR N (1..31) to equal HEX (repeatable), e.g. --pcr 8=<signing-cert PCR8>",
    )
    command.add_argument(
        "--decrypt-principal",
        default=key_policy.DEFAULT_ENCLAVE_PRINCIPAL,
        metavar="ARN",
        help="the enclave's role: may decrypt when attested (default: %(default)s)",
    )
    encrypt = command.add_mutually_exclusive_group()
    encrypt.add_argument(
        "--encrypt-principal",
        default=key_policy.DEFAULT_GENERATOR_PRINCIPAL,
        metavar="ARN",
        help="the key generator's role: only encrypts (default: %(default)s)",
    )
    encrypt.add_argument(
        "--no-encrypt-principal",
        dest="encrypt_principal",
        action="store_const",
        const=None,
        help="grant no principal Encrypt",
    )
    command.add_argument(
        "--generator-pcr0",
        metavar="HEX",
        help="the split layout: the generator enclave's PCR0; its role may only generate wallet-key data "
        "keys, attested (use with --no-encrypt-principal)",
    )
    command.add_argument(
        "--generator-principal",
        default=key_policy.DEFAULT_GENERATOR_PRINCIPAL,
        metavar="ARN",
        help="with --generator-pcr0: the generator enclave's role (default: %(default)s)",
    )
    command.add_argument(
        "--admin-principal",
        default=key_policy.DEFAULT_ADMIN_PRINCIPAL,
        metavar="ARN",
        help="may manage, never use, the key (default: %(default)s)",
    )
    command.add_argument(
        "--debug-mode",
        action="store_true",
        help="DANGEROUS: accept the all-zero PCR0 of ANY debug-mode enclave; never for real keys",
    )
    command.set_defaults(run=run_key_policy)


def run_key_policy(args: argparse.Namespace) -> int:
    if args.awaiting_enclave:
        try:
            print(json.dumps(key_policy.admin_policy(args.admin_principal), indent=2))
        except key_policy.KeyPolicyError as exc:
            print(f"nitro-wallet kms key-policy: error: {_option(exc.field)}: {exc.message}", file=sys.stderr)
            return options.EXIT_USAGE
        return options.EXIT_OK
    try:
        pcr0 = _pcr0(args.pcr0 or _local_pcr0(args), debug=args.debug_mode)
        policy = key_policy.key_policy(
            pcr0=pcr0,
            pcrs=_pcr_options(args.pcr),
            decrypt_principal=args.decrypt_principal,
            encrypt_principal=args.encrypt_principal,
            admin_principal=args.admin_principal,
            generator_pcr0=args.generator_pcr0,
            generator_principal=args.generator_principal,
            debug=args.debug_mode,
        )
    except key_policy.KeyPolicyError as exc:
        print(f"nitro-wallet kms key-policy: error: {_option(exc.field)}: {exc.message}", file=sys.stderr)
        return options.EXIT_USAGE
    if args.debug_mode:
        print(key_policy.DEBUG_POLICY_WARNING, file=sys.stderr)
    print(json.dumps(policy, indent=2))
    return options.EXIT_OK


def _local_pcr0(args: argparse.Namespace) -> str | None:
    if args.local_enclave is None:
        return None
    if args.kms_key_arn is None:
        raise key_policy.KeyPolicyError(
            "--local-enclave needs --kms-key-arn (the image names its key)", field="pcr0"
        )
    config = measurement.image_config(
        kms_endpoint=args.local_enclave, kms_region=args.kms_region, kms_key_arn=args.kms_key_arn
    )
    return measurement.measure(config).pcr0.hex()


def _option(field: str) -> str:
    """The option for a key_policy() field: "pcrs[8]" -> "--pcr 8"."""
    name, _, rest = field.partition("[")
    option = _OPTION_FOR_FIELD.get(name, name)
    return f"{option} {rest.rstrip(']')}" if rest else option


def _pcr0(value: str | None, *, debug: bool) -> str:
    if value is not None:
        return value
    if debug:
        return key_policy.ZERO_PCR
    raise key_policy.KeyPolicyError(
        "is required (the PCR0 of the production enclave image; see --debug-mode for debug enclaves)",
        field="pcr0",
    )


def _pcr_options(values: list[str]) -> dict[int, str]:
    pcrs: dict[int, str] = {}
    for text in values:
        index, sep, value = text.partition("=")
        if not sep or not index.isascii() or not index.isdigit():
            raise key_policy.KeyPolicyError(f"expected N=HEX, got {text!r}", field="pcrs")
        if int(index) in pcrs:
            raise key_policy.KeyPolicyError(f"PCR{int(index)} given twice", field="pcrs")
        pcrs[int(index)] = value
    return pcrs
