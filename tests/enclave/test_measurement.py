"""The emulated enclave measurement: PCR0/1/2 follow the enclave code and config, and nothing else."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path

import cbor2
import pytest

import nitro_wallet
from nitro_wallet.enclave import measurement
from nitro_wallet.enclave.measurement import Measurement, measure
from nitro_wallet.wire.errors import BadRequest

CONFIG: dict[str, str | int | bool] = {
    "kms_key_id": "alias/nitro-wallet",
    "port": 5000,
    "debug_logging": False,
}
ZERO = bytes(48)


def sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the installed nitro_wallet package, to modify."""
    root = tmp_path / "copy" / "nitro_wallet"
    shutil.copytree(Path(nitro_wallet.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_measurement_is_deterministic_and_independent_of_where_the_tree_lives(tree: Path) -> None:
    installed = measure(CONFIG)
    assert measure(CONFIG) == installed
    assert measure(CONFIG, root=tree) == installed
    assert measure(dict(reversed(CONFIG.items()))) == installed  # key order is not part of it
    assert all(len(value) == 48 for value in installed.pcrs().values())
    assert installed.hex() == {f"PCR{i}": installed.pcrs()[i].hex() for i in range(3)}


@pytest.mark.parametrize(
    "relative",
    [
        "__init__.py",
        "wire/errors.py",
        "attestation/document.py",
        "enclave/measurement.py",
        "enclave/nsm/protocol.py",
        "transport/__init__.py",
    ],
)
def test_a_comment_in_any_enclave_file_changes_pcr0_and_pcr2(tree: Path, relative: str) -> None:
    before = measure(CONFIG, root=tree)
    with (tree / relative).open("a") as handle:
        handle.write("# a comment\n")
    after = measure(CONFIG, root=tree)
    assert after.pcr0 != before.pcr0
    assert after.pcr2 != before.pcr2
    assert after.pcr1 == before.pcr1


def test_a_new_enclave_module_changes_the_measurement(tree: Path) -> None:
    before = measure(CONFIG, root=tree)
    (tree / "enclave" / "backdoor.py").write_text("LEAK = True\n")
    assert measure(CONFIG, root=tree).pcr0 != before.pcr0


def test_files_outside_the_enclave_image_do_not_count(tree: Path) -> None:
    before = measure(CONFIG, root=tree)
    with (tree / "host" / "__init__.py").open("a") as handle:
        handle.write("# host change\n")
    (tree / "kms_emulator" / "new.py").write_text("X = 1\n")
    (tree / "enclave" / "__pycache__").mkdir(exist_ok=True)
    (tree / "enclave" / "__pycache__" / "stale.py").write_text("X = 1\n")
    (tree / "enclave" / "notes.txt").write_text("not python\n")
    assert measure(CONFIG, root=tree) == before


def test_config_changes_pcr0_and_pcr2_but_not_pcr1() -> None:
    base = measure(CONFIG)
    changes: list[dict[str, str | int | bool]] = [{**CONFIG, "port": 5001}, {**CONFIG, "extra": "x"}, {}]
    for changed in changes:
        other = measure(changed)
        assert other.pcr0 != base.pcr0
        assert other.pcr2 != base.pcr2
        assert other.pcr1 == base.pcr1


def test_config_value_types_are_distinguished() -> None:
    pcr2 = {measure({"x": value}).pcr2 for value in (1, "1", True)}
    assert len(pcr2) == 3


@pytest.mark.parametrize("value", [1.5, None, ["a"], {"a": 1}])
def test_config_values_must_be_str_int_or_bool(value: object) -> None:
    with pytest.raises(BadRequest, match="str, int or bool") as caught:
        measure({"bad": value})  # type: ignore[dict-item]
    assert caught.value.field == "bad"


RUNTIME = (
    "cryptography",
    "cbor2",
    "asn1crypto",
    "boto3",
    "botocore",
    "coincurve",
    "pycryptodome",
    "pyblst",
    "remerkleable",
    "certifi",
    "cffi",
    "pycparser",
    "jmespath",
    "python-dateutil",
    "s3transfer",
    "six",
    "urllib3",
    "setuptools",
)


def installed_files(name: str) -> list[object]:
    """A distribution's files as its RECORD lists them (bytecode caches aside), hashed: read independently."""
    distribution = metadata.distribution(name)
    record = distribution.read_text("RECORD") or ""
    site = Path(str(distribution.locate_file("")))
    files = []
    for row in csv.reader(record.splitlines()):
        path = site / row[0]
        outside = ".." in Path(row[0]).parts  # console scripts: not importable, and they name the venv
        if not outside and "__pycache__" not in path.parts and path.suffix != ".pyc" and path.is_file():
            files.append([row[0], sha384(path.read_bytes())])
    return [name, distribution.version, sorted(files)]


def test_the_pcrs_follow_the_documented_formula(tree: Path) -> None:
    # Recompute the manifests independently: walk the tree with os.walk and hash every file.
    expected_files = []
    for top in ("wire", "transport", "attestation", "enclave"):
        for directory, subdirs, names in os.walk(tree / top):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            for name in names:
                if name.endswith(".py"):
                    path = Path(directory) / name
                    relative = "nitro_wallet/" + path.relative_to(tree).as_posix()
                    expected_files.append([relative, sha384(path.read_bytes())])
    expected_files.append(["nitro_wallet/__init__.py", sha384((tree / "__init__.py").read_bytes())])
    expected_files.sort()
    config_json = '{"debug_logging":false,"kms_key_id":"alias/nitro-wallet","port":5000}'
    application = cbor2.dumps(["nitro-wallet application v1", expected_files, config_json])
    runtime = cbor2.dumps(
        [
            "nitro-wallet runtime v3",
            platform.python_implementation(),
            platform.python_version(),
            [installed_files(name) for name in RUNTIME],
        ]
    )
    assert measurement.application_manifest(CONFIG, tree) == application
    assert measurement.runtime_manifest() == runtime

    result = measure(CONFIG, root=tree)
    assert result.pcr1 == sha384(ZERO + sha384(runtime))
    assert result.pcr2 == sha384(ZERO + sha384(application))
    assert result.pcr0 == sha384(ZERO + sha384(runtime + application))
    assert json.loads(config_json) == CONFIG


def test_the_image_holds_only_the_enclave_packages() -> None:
    paths = [relative for relative, _ in measurement.measured_files()]
    assert "nitro_wallet/__init__.py" in paths
    assert "nitro_wallet/enclave/measurement.py" in paths
    assert "nitro_wallet/wire/errors.py" in paths
    assert "nitro_wallet/attestation/devca.py" in paths
    assert all(
        path == "nitro_wallet/__init__.py"
        or path.startswith(("nitro_wallet/wire/", "nitro_wallet/transport/", "nitro_wallet/attestation/"))
        or path.startswith("nitro_wallet/enclave/")
        for path in paths
    )
    assert paths == sorted(paths)


def test_a_tree_without_an_enclave_package_is_refused(tree: Path) -> None:
    shutil.rmtree(tree / "transport")
    with pytest.raises(FileNotFoundError, match=r"nitro_wallet\.transport"):
        measure(CONFIG, root=tree)


@pytest.mark.parametrize(
    ("module", "measured"),
    [
        ("nitro_wallet", True),
        ("nitro_wallet.enclave", True),
        ("nitro_wallet.enclave.nsm.emulated", True),
        ("nitro_wallet.wire.errors", True),
        ("nitro_wallet.host", False),
        ("nitro_wallet.host.api", False),
        ("nitro_wallet.cli.main", False),
        ("nitro_wallet.wirex", False),
        ("cryptography", False),
    ],
)
def test_is_measured_module(module: str, measured: bool) -> None:
    assert measurement.is_measured_module(module) is measured


def test_measurements_are_48_byte_pcrs() -> None:
    with pytest.raises(ValueError, match="PCR1 must be 48 bytes"):
        Measurement(pcr0=ZERO, pcr1=bytes(32), pcr2=ZERO)


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_symlink_in_the_measured_packages_is_refused(tree: Path, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "outside"
    if kind == "directory":
        target.mkdir()
        (target / "__init__.py").write_text("")
        (tree / "enclave" / "shadow").symlink_to(target, target_is_directory=True)
    else:
        target.write_text("x = 1\n")
        (tree / "wire" / "shadow.py").symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link in the measured image"):
        measure(CONFIG, root=tree)
