"""The emulation's equivalent of building an EIF: PCR0/1/2 measured from the enclave code and its config.

    enclave image    = nitro_wallet/__init__.py and every *.py under the MEASURED_PACKAGES
    runtime manifest = CBOR ["nitro-wallet runtime v1", python implementation, python version,
                             [[distribution, version or null], ...]]
    app manifest     = CBOR ["nitro-wallet application v1", [[relative posix path, SHA384(file)], ...],
                             canonical JSON of config]
    PCR0 (image)     = extend(zero, SHA384(runtime manifest || app manifest))
    PCR1 (runtime)   = extend(zero, SHA384(runtime manifest))
    PCR2 (app)       = extend(zero, SHA384(app manifest))

where extend(zero, x) = SHA384(48 zero bytes || x), as a fresh PCR extended once. Changing any enclave
source file or the config changes PCR0 and PCR2, as rebuilding an EIF would; files of other packages
(host, cli, ...) do not. Manifests are CBOR arrays of sorted entries, so their bytes are unambiguous.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import cbor2

import nitro_wallet
from nitro_wallet.wire.errors import BadRequest

PCR_BYTES = 48  # SHA384
ZERO_PCR = bytes(PCR_BYTES)
PACKAGE = "nitro_wallet"
# The packages the enclave process may import; the entry point refuses to run with anything else loaded.
MEASURED_PACKAGES = (
    "nitro_wallet.wire",
    "nitro_wallet.transport",
    "nitro_wallet.attestation",
    "nitro_wallet.enclave",
)
# The enclave's third-party distributions, whose versions are part of the runtime (PCR1).
RUNTIME_DISTRIBUTIONS = (
    "cryptography",
    "cbor2",
    "asn1crypto",
    "boto3",
    "botocore",
    "coincurve",
    "pycryptodome",
    "pyblst",
    "remerkleable",
    # what those import in turn (boto3's closure, cffi for the native bindings, setuptools' .pth hook)
    "certifi",
    "cffi",
    "pycparser",  # cffi parses pycryptodome's C declarations with it
    "jmespath",
    "python-dateutil",
    "s3transfer",
    "six",
    "urllib3",
    "setuptools",
)
RUNTIME_TAG = "nitro-wallet runtime v3"
APPLICATION_TAG = "nitro-wallet application v1"

ConfigValue = str | int | bool


@dataclass(frozen=True)
class Measurement:
    """PCR0/1/2 of an emulated enclave image (48 bytes each)."""

    pcr0: bytes
    pcr1: bytes
    pcr2: bytes

    def __post_init__(self) -> None:
        for index, value in self.pcrs().items():
            if not isinstance(value, bytes) or len(value) != PCR_BYTES:
                raise ValueError(f"PCR{index} must be {PCR_BYTES} bytes")

    def pcrs(self) -> dict[int, bytes]:
        return {0: self.pcr0, 1: self.pcr1, 2: self.pcr2}

    def hex(self) -> dict[str, str]:
        """{"PCR0": hex, "PCR1": hex, "PCR2": hex}, as `nitro-cli describe-eif` prints them."""
        return {f"PCR{index}": value.hex() for index, value in self.pcrs().items()}


ROLES = ("wallet", "generator", "signer")  # one enclave does all; or the split layout's two (enclave/app.py)
DEFAULT_ROLE = "wallet"


def image_config(
    *,
    kms_endpoint: str,
    kms_region: str,
    kms_key_arn: str,
    role: str = DEFAULT_ROLE,
    reference_kms_key_arn: str | None = None,
) -> dict[str, str]:
    """The enclave image's configuration, measured into PCR0/PCR2 (in production, baked into the EIF).

    The role and the AWS reference's KMS key (which keys.migrate may decrypt under) appear only when set,
    so an image without them measures as it always has.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    config = {"kms_endpoint": kms_endpoint, "kms_region": kms_region, "kms_key_arn": kms_key_arn}
    if role != DEFAULT_ROLE:
        config["role"] = role
    if reference_kms_key_arn is not None:
        config["reference_kms_key_arn"] = reference_kms_key_arn
    return config


def extend(value: bytes, data: bytes) -> bytes:
    """A SHA384 PCR extension: SHA384(value || data)."""
    return hashlib.sha384(value + data).digest()


def is_measured_module(name: str) -> bool:
    """Whether the module `name` is part of the measured enclave image."""
    return name == PACKAGE or any(name == p or name.startswith(p + ".") for p in MEASURED_PACKAGES)


def package_root() -> Path:
    """The installed nitro_wallet package directory (as imported: module origins are compared to it)."""
    return Path(nitro_wallet.__file__).parent


def measured_files(root: Path | None = None) -> list[tuple[str, Path]]:
    """(relative posix path, file) for every file of the enclave image, sorted by path. A symbolic link
    anywhere in the measured packages is refused: it could put unmeasured code at a measured name."""
    root = Path(root) if root is not None else package_root()
    files = [root / "__init__.py"]
    for package in MEASURED_PACKAGES:
        directory = root.joinpath(*package.split(".")[1:])
        if not directory.is_dir() or directory.is_symlink():
            raise FileNotFoundError(f"measured package {package} is missing from {root}")
        for folder, subfolders, names in os.walk(directory):
            for name in [*subfolders, *names]:
                if (Path(folder) / name).is_symlink():
                    raise ValueError(f"symbolic link in the measured image: {Path(folder) / name}")
            subfolders[:] = [d for d in subfolders if d != "__pycache__"]
            files.extend(Path(folder) / name for name in names if name.endswith(".py"))
    entries = [(f"{PACKAGE}/{path.relative_to(root).as_posix()}", path) for path in files]
    return sorted(entries)


def canonical_config(config: Mapping[str, ConfigValue]) -> bytes:
    """The config as JSON with sorted keys and no spaces; only str/int/bool values are accepted."""
    for key, value in config.items():
        if not isinstance(key, str) or not isinstance(value, str | int | bool):
            raise BadRequest("enclave config maps text keys to str, int or bool values", field=str(key))
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":")).encode()


def distribution_files(name: str) -> list[tuple[str, Path]]:
    """An installed distribution's importable files (bytecode caches and console scripts aside)."""
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return []
    located = [(str(entry), Path(str(distribution.locate_file(entry)))) for entry in distribution.files or []]
    return sorted(
        (entry, path)
        for entry, path in located
        if ".." not in Path(entry).parts
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and path.is_file()
    )


@functools.cache
def runtime_files() -> frozenset[Path]:
    """Every file of the measured third-party distributions, for the boot-time import check."""
    return frozenset(path for name in RUNTIME_DISTRIBUTIONS for _, path in distribution_files(name))


@functools.cache
def runtime_manifest() -> bytes:
    """The interpreter's version and every installed file of the enclave's third-party distributions,
    hashed: editing a library the enclave runs changes PCR1 as a new EIF would."""
    distributions: list[list[object]] = []
    for name in RUNTIME_DISTRIBUTIONS:
        files = [
            [entry, hashlib.sha384(path.read_bytes()).digest()] for entry, path in distribution_files(name)
        ]
        version = metadata.version(name) if files else None
        distributions.append([name, version, files])
    return cbor2.dumps(
        [RUNTIME_TAG, platform.python_implementation(), platform.python_version(), distributions]
    )


def application_manifest(config: Mapping[str, ConfigValue], root: Path | None = None) -> bytes:
    files = [
        [relative, hashlib.sha384(path.read_bytes()).digest()] for relative, path in measured_files(root)
    ]
    return cbor2.dumps([APPLICATION_TAG, files, canonical_config(config).decode()])


def measure(config: Mapping[str, ConfigValue], *, root: Path | None = None) -> Measurement:
    """Measure the enclave image at `root` (default: the installed package) with `config`."""
    runtime = runtime_manifest()
    application = application_manifest(config, root)
    return Measurement(
        pcr0=extend(ZERO_PCR, hashlib.sha384(runtime + application).digest()),
        pcr1=extend(ZERO_PCR, hashlib.sha384(runtime).digest()),
        pcr2=extend(ZERO_PCR, hashlib.sha384(application).digest()),
    )
