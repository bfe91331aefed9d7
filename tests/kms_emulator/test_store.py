"""The emulator's SQLite store: what it keeps across a reopen, key versions, alias uniqueness (also under
concurrent callers) and principals (created once, secrets kept out of repr).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nitro_wallet.kms_emulator.store import KEY_MATERIAL_BYTES, AliasExists, KmsStore

ARN = "arn:aws:iam::111122223333:user/someone"
THREADS = 16


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kms" / "state.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[KmsStore]:
    opened = KmsStore(path)
    yield opened
    opened.close()


def test_a_new_key_has_version_one_with_fresh_material(store: KmsStore) -> None:
    first, second = store.create_key("first", "{}"), store.create_key("second", "{}")
    assert (first.description, first.policy, first.enabled, first.rotation_enabled) == (
        "first",
        "{}",
        True,
        False,
    )
    assert first.current_version == 1
    assert store.get_key(first.key_id) == first
    material = store.material(first.key_id, 1)
    assert material is not None
    assert len(material) == KEY_MATERIAL_BYTES
    assert material != store.material(second.key_id, 1)
    assert store.material(first.key_id, 2) is None
    assert store.get_key("00000000-0000-0000-0000-000000000000") is None


def test_the_state_file_is_private_to_its_owner(store: KmsStore, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotate_adds_a_version_and_keeps_the_old_material(store: KmsStore) -> None:
    key = store.create_key("", "{}")
    first = store.material(key.key_id, 1)
    assert store.rotate(key.key_id) == 2
    assert store.rotate(key.key_id) == 3
    record = store.get_key(key.key_id)
    assert record is not None
    assert record.current_version == 3
    materials = [store.material(key.key_id, version) for version in (1, 2, 3)]
    assert materials[0] == first
    assert len(set(materials)) == 3


def test_everything_survives_a_reopen(path: Path) -> None:
    store = KmsStore(path)
    key = store.create_key("kept", '{"Statement": "kept"}')
    store.rotate(key.key_id)
    store.set_enabled(key.key_id, False)
    store.set_rotation(key.key_id, True)
    store.set_policy(key.key_id, '{"Statement": "changed"}')
    store.create_alias("alias/kept", key.key_id)
    principal = store.ensure_principal("default", ARN)
    materials = [store.material(key.key_id, version) for version in (1, 2)]
    record = store.get_key(key.key_id)
    store.close()

    reopened = KmsStore(path)
    try:
        assert reopened.get_key(key.key_id) == record
        assert record is not None
        assert (record.enabled, record.rotation_enabled, record.current_version) == (False, True, 2)
        assert record.policy == '{"Statement": "changed"}'
        assert [reopened.material(key.key_id, version) for version in (1, 2)] == materials
        assert reopened.alias_target("alias/kept") == key.key_id
        assert reopened.principal(principal.access_key_id) == principal
        assert reopened.ensure_principal("default", ARN) == principal
        assert [k.key_id for k in reopened.list_keys()] == [key.key_id]
    finally:
        reopened.close()


def test_list_keys_in_creation_order(store: KmsStore) -> None:
    created = [store.create_key(str(index), "{}").key_id for index in range(5)]
    assert [key.key_id for key in store.list_keys()] == created


def test_an_alias_name_is_unique(store: KmsStore) -> None:
    first, second = store.create_key("", "{}"), store.create_key("", "{}")
    store.create_alias("alias/one", first.key_id)
    with pytest.raises(AliasExists):
        store.create_alias("alias/one", second.key_id)
    assert store.alias_target("alias/one") == first.key_id
    store.create_alias("alias/two", first.key_id)  # one key, several aliases
    assert [(name, key_id) for name, key_id, _ in store.list_aliases()] == [
        ("alias/one", first.key_id),
        ("alias/two", first.key_id),
    ]
    assert store.alias_target("alias/none") is None


def test_concurrent_callers_create_one_alias_once(store: KmsStore) -> None:
    keys = [store.create_key(str(index), "{}").key_id for index in range(THREADS)]
    start = threading.Barrier(THREADS)
    won: list[str] = []
    lost: list[str] = []

    def create(key_id: str) -> None:
        start.wait()
        try:
            store.create_alias("alias/contended", key_id)
            won.append(key_id)
        except AliasExists:
            lost.append(key_id)

    threads = [threading.Thread(target=create, args=(key_id,)) for key_id in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert len(lost) == THREADS - 1
    assert store.alias_target("alias/contended") == won[0]


def test_principal_creation_is_idempotent(store: KmsStore) -> None:
    created = store.ensure_principal("enclave", ARN)
    assert created.access_key_id.startswith("AKIA")
    assert len(created.access_key_id) == 20
    assert len(created.secret_access_key) >= 40
    assert store.ensure_principal("enclave", ARN) == created
    assert store.ensure_principal("enclave", ARN + "-other") == created  # the first ARN stays
    other = store.ensure_principal("generator", ARN)
    assert other.access_key_id != created.access_key_id
    assert other.secret_access_key != created.secret_access_key
    assert store.principal(created.access_key_id) == created
    assert store.principal("AKIA" + "0" * 16) is None
    assert store.principals() == [created, other]


def test_a_principals_repr_hides_its_secret(store: KmsStore) -> None:
    principal = store.ensure_principal("default", ARN)
    text = repr(principal)
    assert principal.secret_access_key not in text
    assert principal.access_key_id in text
    assert ARN in text
    assert principal.secret_access_key not in str(principal)
    assert principal.secret_access_key not in repr([principal])
