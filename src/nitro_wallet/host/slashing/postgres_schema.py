"""The PostgreSQL store's schema, as forward-only migrations, and the statements of its one-round-trip path.

Steps 1 and 2 hold the tables. Step 3 adds the high watermark (`slashing_high_watermark`, one row while
set) and two functions, `slashing_record_clear_attestation` and `slashing_record_clear_block`: each records
a request in one statement when it is *clear*, that is when `rules` would allow it without reading any
history (it is strictly after the validator's last-signed marks, above its low watermark and below the high
watermark if one is set, the chain is the pinned one, the validator is on record and its key is not
deleted), and returns true; in every other case it writes nothing and returns false, and the store judges
the request in Python (`ledger`, `rules`), the one definition of every refusal and of the re-sign rule.

Why a clear request needs no history: every recorded vote (s, t) has s <= last_source and t <= last_target
and every recorded block's slot is <= last_slot (records only move those marks up), so a vote with
source >= last_source and target > last_target shares no target and surrounds nothing either way, and a
block after last_slot shares no slot: `rules.attestation_history_needed` and `rules.block_history_needed`
are false, and `rules.judge_*` allow it unless it is below the low watermark or its source is after its
target, which the functions check too. A clear request is recorded as `ledger` records it: its row
inserted, the last-signed marks raised as `rules.after_*` raise them.

Locking is `ledger`'s: the validator's row, `FOR UPDATE`, before the key's state is read. The functions
are VOLATILE (the default), so at READ COMMITTED every statement in them takes a fresh snapshot: once the
lock is granted they see what its previous holder committed (a deletion, a record), as `ledger`'s separate
statements do.

No `%` or `?` in these texts: the migration runs them through `ledger.Sql`, which turns `?` into psycopg's
`%s`.
"""

from __future__ import annotations

_RECORD_CLEAR_ATTESTATION = """
CREATE FUNCTION slashing_record_clear_attestation(
    signer bytea, chain bytea, vote_source bigint, vote_target bigint, vote_root bytea
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    marks record;
    high_epoch bigint;
BEGIN
    PERFORM FROM slashing_metadata WHERE id = 1 AND genesis_validators_root = chain;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT id, low_source, low_target, last_source, last_target INTO marks
        FROM slashing_validators WHERE pubkey = signer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM FROM validator_keys WHERE pubkey = signer AND NOT enabled;
    IF FOUND THEN
        RETURN false;
    END IF;
    SELECT epoch INTO high_epoch FROM slashing_high_watermark WHERE id = 1;
    IF FOUND AND (vote_source >= high_epoch OR vote_target >= high_epoch) THEN
        RETURN false;
    END IF;
    IF vote_source > vote_target
        OR (marks.low_source IS NOT NULL
            AND (vote_source < marks.low_source OR vote_target <= marks.low_target))
        OR (marks.last_source IS NOT NULL
            AND (vote_source < marks.last_source OR vote_target <= marks.last_target))
    THEN
        RETURN false;
    END IF;
    INSERT INTO slashing_attestations (validator_id, source_epoch, target_epoch, signing_root)
        VALUES (marks.id, vote_source, vote_target, vote_root) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE slashing_validators SET last_source = GREATEST(last_source, vote_source),
        last_target = GREATEST(last_target, vote_target) WHERE id = marks.id;
    RETURN true;
END
$$"""

_RECORD_CLEAR_BLOCK = """
CREATE FUNCTION slashing_record_clear_block(
    signer bytea, chain bytea, block_slot bigint, block_root bytea
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    marks record;
    high_slot bigint;
BEGIN
    PERFORM FROM slashing_metadata WHERE id = 1 AND genesis_validators_root = chain;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT id, low_slot, last_slot INTO marks FROM slashing_validators WHERE pubkey = signer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM FROM validator_keys WHERE pubkey = signer AND NOT enabled;
    IF FOUND THEN
        RETURN false;
    END IF;
    SELECT slot INTO high_slot FROM slashing_high_watermark WHERE id = 1;
    IF FOUND AND block_slot >= high_slot THEN
        RETURN false;
    END IF;
    IF (marks.low_slot IS NOT NULL AND block_slot <= marks.low_slot)
        OR (marks.last_slot IS NOT NULL AND block_slot <= marks.last_slot)
    THEN
        RETURN false;
    END IF;
    INSERT INTO slashing_blocks (validator_id, slot, signing_root)
        VALUES (marks.id, block_slot, block_root) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE slashing_validators SET last_slot = GREATEST(last_slot, block_slot) WHERE id = marks.id;
    RETURN true;
END
$$"""

# Forward-only: MIGRATIONS[n] takes the database from schema version n to n + 1. Never edit a released
# step; append a new one. The version lives in slashing_schema (one row).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE slashing_metadata (
            id integer NOT NULL PRIMARY KEY CHECK (id = 1),
            genesis_validators_root bytea NOT NULL CHECK (octet_length(genesis_validators_root) = 32)
        )""",
        """CREATE TABLE slashing_validators (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            pubkey bytea NOT NULL UNIQUE CHECK (octet_length(pubkey) = 48),
            low_slot bigint,
            low_source bigint,
            low_target bigint,
            last_slot bigint,
            last_source bigint,
            last_target bigint,
            CHECK ((low_source IS NULL) = (low_target IS NULL)),
            CHECK ((last_source IS NULL) = (last_target IS NULL))
        )""",
        """CREATE TABLE slashing_blocks (
            validator_id bigint NOT NULL REFERENCES slashing_validators (id),
            slot bigint NOT NULL,
            signing_root bytea NOT NULL CHECK (octet_length(signing_root) = 32),
            PRIMARY KEY (validator_id, slot)
        )""",
        """CREATE TABLE slashing_attestations (
            validator_id bigint NOT NULL REFERENCES slashing_validators (id),
            target_epoch bigint NOT NULL,
            source_epoch bigint NOT NULL CHECK (source_epoch <= target_epoch),
            signing_root bytea NOT NULL CHECK (octet_length(signing_root) = 32),
            PRIMARY KEY (validator_id, target_epoch)
        )""",
    ),
    (
        """CREATE TABLE validator_keys (
            pubkey bytea NOT NULL PRIMARY KEY CHECK (octet_length(pubkey) = 48),
            data_key_ref text NOT NULL,
            blob bytea NOT NULL,
            created_at bigint NOT NULL,
            enabled boolean NOT NULL,
            description text
        )""",
    ),
    (
        """CREATE TABLE slashing_high_watermark (
            id integer NOT NULL PRIMARY KEY CHECK (id = 1),
            epoch bigint NOT NULL CHECK (epoch >= 0),
            slot bigint NOT NULL CHECK (slot >= 0)
        )""",
        _RECORD_CLEAR_ATTESTATION,
        _RECORD_CLEAR_BLOCK,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# The calls, one statement each (autocommit: committed before psycopg returns). Typed, so that psycopg's
# choice of int2/int4/int8 for a Python int never changes which function or prepared plan is used.
RECORD_CLEAR_ATTESTATION = (
    "SELECT slashing_record_clear_attestation(%s::bytea, %s::bytea, %s::bigint, %s::bigint, %s::bytea)"
)
RECORD_CLEAR_BLOCK = "SELECT slashing_record_clear_block(%s::bytea, %s::bytea, %s::bigint, %s::bytea)"
