"""The record catches someone with database access: the ten tamper scenarios of issue 23,
the limits of an attacker holding the key (docs/audit.md), key rotation and checkpoints.

Each scenario tampers with raw SQL through its own connection (committed, no ORM: what a
database user does), then verifies in a fresh session.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN, D, square
from sqlalchemy import text
from sqlalchemy.orm import Session
from test_platform_reporting_runs import PROV, result_table

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.platform.audit import checkpoints as cps
from ecovalue.platform.audit.keys import KeyFile, Keyring
from ecovalue.platform.audit.rules import entry_body
from ecovalue.platform.audit.service import (
    checkpoint_now,
    parse_anchor,
    record_key_rotation,
    setup_of,
    verify_audit_chain,
    verify_record,
)
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.registry import service as reg
from ecovalue.platform.runs import service as runs


@pytest.fixture
def recorded(uow):  # type: ignore[no-untyped-def]
    """A user, a register, an owner, parcel P1 with its ownership right (right 1), a granted
    right 2 of 村民甲 with its grant transaction, then a checkpoint, then one more write."""
    with uow("admin") as s:
        auth.create_user(s, ADMIN, "ana", "a long password", Role.analyst)
        reg.create_register(s, ADMIN, "WH", "register", 4547)
        owner = reg.add_owner(s, ADMIN, "state", "全民所有", "武汉市自然资源和规划局")
        parcel = reg.register_parcel(
            s, ADMIN, "WH", "P1", "forest", "420102001", square(0, 0), owner.id
        )
        reg.grant_right(
            s, ADMIN, parcel.id, "contracting", "村民甲", Decimal("0.6"), D(2020, 1, 1), None
        )
        checkpoint_now(s, "test")
    with uow("admin") as s:  # entries after the checkpoint
        reg.add_owner(s, ADMIN, "collective", "某村", "某村股份经济合作社")


def _tamper(uow, *statements: str) -> None:  # type: ignore[no-untyped-def]
    with uow("mallory") as s:
        for sql in statements:
            s.execute(text(sql))


def _verify(uow) -> str:  # type: ignore[no-untyped-def]
    with uow() as s:
        return "\n".join(str(p) for p in verify_audit_chain(s))


def _last_seq(uow) -> int:  # type: ignore[no-untyped-def]
    with uow() as s:
        return int(s.execute(text("SELECT max(seq) FROM audit_log")).scalar_one())


def _rewrite_from(
    session: Session,
    seq: int,
    edit: Callable[[dict], None],  # type: ignore[type-arg]
    sign: Callable[[dict], str],  # type: ignore[type-arg]
    edit_all: bool = False,
) -> None:
    """Edit entry ``seq`` (or every one from it) and recompute every later hash with ``sign``."""
    rows = [
        dict(r._mapping)
        for r in session.execute(text("SELECT * FROM audit_log ORDER BY seq")).all()
    ]
    prev = "0" * 64
    for row in rows:
        if row["seq"] < seq:
            prev = row["hash"]
            continue
        if row["seq"] == seq or edit_all:
            edit(row)
        row["prev_hash"] = prev
        row["hash"] = sign(row)
        prev = row["hash"]
        session.execute(
            text(
                "UPDATE audit_log SET payload = :payload, actor = :actor, key_id = :key_id, "
                "prev_hash = :prev_hash, hash = :hash WHERE seq = :seq"
            ),
            row,
        )
    session.execute(
        text("UPDATE audit_head SET last_hash = :h, last_key_id = :k"),
        {"h": prev, "k": rows[-1]["key_id"]},
    )


def _edit_holder(row: dict) -> None:  # type: ignore[type-arg]
    row["payload"] = row["payload"].replace("村民甲", "mallory")


def _sha256(row: dict) -> str:  # type: ignore[type-arg]
    return hashlib.sha256(entry_body(row).encode()).hexdigest()


def _no_row_problems(out: str) -> bool:
    return not any(w in out for w in ("is not explained", "is missing:", "differs from"))


def _grant_entry(uow) -> int:  # type: ignore[no-untyped-def]
    with uow() as s:
        return int(
            s.execute(
                text("SELECT seq FROM audit_log WHERE entity = 'rights' AND entity_id = '2'")
            ).scalar_one()
        )


# --- the ten scenarios of issue 23 ---------------------------------------------------------


def test_1_edited_payload(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(uow, "UPDATE audit_log SET payload = replace(payload, '村民甲', 'mallory')")
    out = _verify(uow)
    assert "content was changed after it was written (MAC does not match)" in out
    assert "rights row 2: differs" in out and 'holder: table "村民甲", record "mallory"' in out


def test_2_edited_actor(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(uow, "UPDATE audit_log SET actor = 'somebody' WHERE seq = 2")
    assert "audit_log seq 2: content was changed" in _verify(uow)


def test_3_deleted_middle_entry(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    seq = _grant_entry(uow)
    _tamper(uow, f"DELETE FROM audit_log WHERE seq = {seq}")
    out = _verify(uow)
    assert f"entries {seq}..{seq} are missing" in out
    assert "rights row 2: is not explained by the record, which never inserted it" in out


def test_4_deleted_last_entry(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    last = _last_seq(uow)
    _tamper(uow, f"DELETE FROM audit_log WHERE seq = {last}")
    out = _verify(uow)
    assert f"head names entry {last} but the log ends at entry {last - 1}" in out
    assert "owners row 2: is not explained by the record" in out


def test_5_deleted_last_three_and_head_moved_back(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    last = _last_seq(uow)
    keep = last - 3  # the owner of the last write and two entries before the checkpoint
    _tamper(
        uow,
        f"DELETE FROM audit_log WHERE seq > {keep}",
        f"UPDATE audit_head SET last_seq = {keep}, "
        f"last_hash = (SELECT hash FROM audit_log WHERE seq = {keep})",
    )
    out = _verify(uow)
    assert "head names" not in out  # the chain itself is consistent again
    assert f"now ends at entry {keep}" in out and "(rollback or truncation)" in out
    assert "is not explained by the record" in out


def test_5b_complete_rollback_of_rows_and_entries(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    """Rows and entries removed together since the checkpoint: only the checkpoint sees it."""
    cut = _grant_entry(uow) - 1
    _tamper(
        uow,
        "DELETE FROM right_transactions",
        "DELETE FROM rights WHERE id = 2",
        "DELETE FROM owners WHERE id = 2",
        f"DELETE FROM audit_log WHERE seq > {cut}",
        f"UPDATE audit_head SET last_seq = {cut}, "
        f"last_hash = (SELECT hash FROM audit_log WHERE seq = {cut})",
    )
    out = _verify(uow)
    assert _no_row_problems(out)  # the tables match what is left
    assert f"now ends at entry {cut}" in out


def test_6_every_entry_and_the_head_deleted(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(uow, "DELETE FROM audit_log", "DELETE FROM audit_head")
    out = _verify(uow)
    assert "now ends at entry 0" in out
    assert "parcels row 1: is not explained by the record, which never inserted it" in out


def test_7_edit_and_recompute_every_later_hash(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    seq = _grant_entry(uow)
    with uow("mallory") as s:  # the attacker knows the algorithm, not the key
        _rewrite_from(s, seq, _edit_holder, _sha256)
        s.execute(text("UPDATE rights SET holder = 'mallory' WHERE id = 2"))
    out = _verify(uow)
    assert f"audit_log seq {seq}: content was changed after it was written (MAC" in out
    assert "no longer has the hash checkpointed" in out


def test_7b_downgrade_to_an_unkeyed_chain(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    def unkey(row: dict) -> None:  # type: ignore[type-arg]
        row["key_id"] = None

    with uow("mallory") as s:  # rewrite the whole chain as if written before keying
        _rewrite_from(s, 1, unkey, _sha256, edit_all=True)
    out = _verify(uow)
    assert "no longer has the hash checkpointed" in out
    assert "carry no key (plain SHA-256" in out


def test_8_business_row_updated(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(uow, "UPDATE rights SET holder = 'mallory' WHERE id = 2")
    out = _verify(uow)
    assert "rights row 2: differs from the record's entry" in out
    assert 'holder: table "mallory", record "村民甲"' in out


def test_9_forged_right_inserted(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(
        uow,
        "INSERT INTO rights (id, parcel_id, kind, holder, share, start_date, derived, created_at)"
        " VALUES (99, 1, 'use_operation', 'mallory', '1.000000', '2021-01-01', false, "
        "CURRENT_TIMESTAMP)",
    )
    out = _verify(uow)
    assert "rights row 99: is not explained by the record, which never inserted it" in out


def test_10_right_deleted(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    _tamper(uow, "DELETE FROM right_transactions", "DELETE FROM rights WHERE id = 2")
    out = _verify(uow)
    assert "rights row 2: is missing: the record's entry" in out
    assert "right_transactions row 1: is missing" in out


def test_an_untouched_record_is_intact(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        report = verify_record(s)
    assert report.intact and report.problems == [], report.problems
    assert report.rows >= 7 and report.checkpoints == 1 and report.chain.key_id


# --- what an attacker with the key can and cannot hide (docs/audit.md) -------------------


def _keyring(uow) -> Keyring:  # type: ignore[no-untyped-def]
    with uow() as s:
        return setup_of(s).keys.load()


def test_with_the_key_a_rewrite_before_a_checkpoint_is_seen(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    ring = _keyring(uow)
    seq = _grant_entry(uow)
    with uow("mallory") as s:  # key and database, consistent in the tables too
        _rewrite_from(s, seq, _edit_holder, lambda r: ring.mac(r["key_id"], entry_body(r)))
        s.execute(text("UPDATE rights SET holder = 'mallory' WHERE id = 2"))
    out = _verify(uow)
    assert "content was changed" not in out and _no_row_problems(out)
    assert f"entry {_last_seq(uow) - 1} no longer has the hash checkpointed" in out


def test_with_key_and_checkpoint_log_only_a_copy_kept_elsewhere_sees_it(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    ring = _keyring(uow)
    with uow() as s:
        kept = checkpoint_now(s, "published")  # e.g. printed with a published result
        log = setup_of(s).checkpoint_file
    assert kept is not None
    seq = _grant_entry(uow)
    with uow("mallory") as s:
        _rewrite_from(s, seq, _edit_holder, lambda r: ring.mac(r["key_id"], entry_body(r)))
        s.execute(text("UPDATE rights SET holder = 'mallory' WHERE id = 2"))
        head = s.execute(text("SELECT last_seq, last_hash FROM audit_head")).one()
    log.write_text(cps.sign(ring, head[0], head[1], "forged").line() + "\n")  # rewritten log
    with uow() as s:
        assert verify_record(s).intact  # nothing local contradicts the rewrite
        report = verify_record(s, [parse_anchor(kept.line(), "kept copy")])
    assert not report.intact
    assert "kept copy: entry" in str(report.problems[0])


def test_writes_since_the_last_checkpoint_can_be_rolled_back_unseen(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    """The documented limit: rows and entries written since the last checkpoint can be
    removed together by anyone with database access (no key needed); checkpoints on every
    publication and daily bound that window."""
    cut = _last_seq(uow) - 1
    _tamper(
        uow,
        "DELETE FROM owners WHERE id = 2",
        f"DELETE FROM audit_log WHERE seq > {cut}",
        f"UPDATE audit_head SET last_seq = {cut}, "
        f"last_hash = (SELECT hash FROM audit_log WHERE seq = {cut})",
    )
    assert _verify(uow) == ""


# --- keys, rotation and checkpoints ------------------------------------------------------


def test_key_file_is_private_and_required_in_production(data_dir: Path, uow, recorded) -> None:  # type: ignore[no-untyped-def]
    key_file = data_dir / "audit-keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "secret" in key_file.read_text()
    with uow() as s:  # the database never sees the key
        dump = " ".join(str(r) for r in s.execute(text("SELECT * FROM audit_log")).all())
    secret = json.loads(key_file.read_text())["keys"][0]["secret"]
    assert secret not in dump
    missing = KeyFile(data_dir / "none.json", may_create=False, strict=True)
    with pytest.raises(OSError, match="does not exist; create it with `ecovalue audit init-key`"):
        missing.load()
    key_file.chmod(0o644)
    with pytest.raises(OSError, match="chmod 600"):
        KeyFile(key_file, may_create=False, strict=True).load()


def test_production_app_refuses_to_start_without_the_key(database_url, data_dir) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(env="production", secret_key="q7Vx-2mLrT9sZ_kW4pNc8yBf3HjD6aGe1uQo5iXv0tR", database_url=database_url)
    with pytest.raises(OSError, match="audit key file .* does not exist"):
        create_app(settings)


def test_rotation_is_recorded_and_old_keys_still_verify(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    old = _keyring(uow).current_id
    with uow() as s:
        new = setup_of(s).keys.rotate().current_id
        head = record_key_rotation(s)
    with uow() as s:
        reg.add_owner(s, ADMIN, "collective", "另一村", "另一村股份经济合作社")
    with uow() as s:
        entries = s.execute(text("SELECT entity, action, key_id FROM audit_log ORDER BY seq")).all()
        assert ("audit_keys", "rotate_key", new) in entries
        assert entries[0][2] == old and entries[-1][2] == new and head.key_id == new
        assert verify_audit_chain(s) == []
        lines = setup_of(s).checkpoint_file.read_text().splitlines()
    assert "key rotation" in lines[-1]


def test_an_entry_signed_with_a_retired_key_after_rotation_is_refused(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    ring = _keyring(uow)
    old = ring.current_id
    with uow() as s:
        setup_of(s).keys.rotate()
        record_key_rotation(s)
    with uow("mallory") as s:  # a leaked old key: append a forged entry after the rotation
        seq, prev = s.execute(text("SELECT last_seq, last_hash FROM audit_head")).one()
        forged = dict(
            seq=seq + 1,
            at="2030-01-01T00:00:00+00:00",
            actor="admin",
            action="update",
            entity="rights",
            entity_id="2",
            payload="{}",
            prev_hash=prev,
            key_id=old,
        )
        forged["hash"] = ring.mac(old, entry_body(forged))
        s.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, "
                "payload, prev_hash, hash, key_id) VALUES (:seq, :at, :actor, :action, "
                ":entity, :entity_id, :payload, :prev_hash, :hash, :key_id)"
            ),
            forged,
        )
        s.execute(
            text("UPDATE audit_head SET last_seq = :seq, last_hash = :hash, last_key_id = :key_id"),
            forged,
        )
    out = _verify(uow)
    assert f"seq {seq + 1}: is signed with key '{old}' but the chain's key is" in out


def test_a_change_of_key_without_a_rotation_entry_is_refused(uow, recorded, data_dir) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        setup_of(s).keys.rotate()  # the file changes; the next write records the switch
    with uow() as s:
        reg.add_owner(s, ADMIN, "collective", "另一村", "另一村股份经济合作社")
        assert verify_audit_chain(s) == []
    _tamper(uow, "DELETE FROM audit_log WHERE entity = 'audit_keys'")
    assert "no rotation endorsed by that key is recorded" in _verify(uow)


def test_unreadable_or_forged_checkpoint_lines_are_named(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        log = setup_of(s).checkpoint_file
    line = json.loads(log.read_text().splitlines()[0])
    line["seq"] = 1
    with log.open("a") as f:
        f.write(json.dumps(line) + "\n" + "garbage\n")
    out = _verify(uow)
    assert "line 2: checkpoint of entry 1 is not signed by a key of this installation" in out
    assert "line 3: cannot be read as a checkpoint" in out


def test_no_checkpoint_yet_is_a_warning(uow, recorded) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        setup_of(s).checkpoint_file.unlink()
        report = verify_record(s)
    assert report.intact
    assert [p.severity for p in report.problems] == ["warning"]


def test_publication_writes_a_checkpoint_that_the_published_result_carries(  # type: ignore[no-untyped-def]
    uow, settings, tmp_path: Path
) -> None:
    with uow() as s:
        run_id = runs.store_run(s, result_table("1000.00"), PROV).id
        runs.publish_run(s, ADMIN, run_id, "first")
    with uow() as s:
        log = setup_of(s).checkpoint_file
        pub_seq = s.execute(
            text("SELECT min(seq) FROM audit_log WHERE entity = 'publications'")
        ).scalar_one()
        head = s.execute(text("SELECT last_seq FROM audit_head")).scalar_one()
    (line,) = log.read_text().splitlines()
    checkpoint = cps.parse(line, "log")
    assert checkpoint.reason == "publications 1" and checkpoint.seq == head >= pub_seq
    app = create_app(settings)
    with TestClient(app) as client:
        answer = client.get("/api/results/2023").json()
    app.state.engine.dispose()
    assert answer["checkpoint"]["seq"] == checkpoint.seq
    assert answer["checkpoint"]["mac"] == checkpoint.mac
    saved = tmp_path / "result-2023.json"
    saved.write_text(json.dumps(answer))
    with uow() as s:  # the saved answer is an anchor for verify
        report = verify_record(s, [parse_anchor(saved.read_text(), str(saved))])
    assert report.intact and report.checkpoints == 2


def test_a_publication_in_a_savepoint_is_checkpointed_once_the_transaction_commits(  # type: ignore[no-untyped-def]
    uow,
) -> None:
    # after_commit also fires when a savepoint is released: the checkpoint must wait for the
    # outer commit (on SQLite its look at the head on a second connection waited for the
    # write lock this transaction still held, and the publication failed "database is locked")
    with uow() as s:
        run_id = runs.store_run(s, result_table("1000.00"), PROV).id
        log = setup_of(s).checkpoint_file
        with s.begin_nested():
            runs.publish_run(s, ADMIN, run_id, "in a savepoint")
        assert not log.exists() or log.read_text() == ""
    with uow() as s:
        head = s.execute(text("SELECT last_seq FROM audit_head")).scalar_one()
    (line,) = log.read_text().splitlines()
    assert cps.parse(line, "log").seq == head


def test_a_failed_transaction_writes_no_checkpoint(uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        run_id = runs.store_run(s, result_table("1000.00"), PROV).id
    with pytest.raises(RuntimeError), uow() as s:
        runs.publish_run(s, ADMIN, run_id, "first")
        raise RuntimeError("the request failed after publishing")
    with uow() as s:
        assert not setup_of(s).checkpoint_file.exists()


def test_unkeyed_entries_of_an_upgraded_database_are_anchored_by_the_first_keyed_one(uow) -> None:  # type: ignore[no-untyped-def]
    """Entries written before migration 0003 (plain SHA-256) verify, once a keyed one follows."""
    with uow() as s:
        reg.create_register(s, ADMIN, "WH", "register", 4547)
    with uow("old version") as s:  # as 0002 wrote it: no key id, sha256
        _rewrite_from(s, 1, lambda r: r.update(key_id=None), _sha256)
        s.execute(text("UPDATE audit_head SET last_key_id = NULL"))
    with uow() as s:
        unvouched = [str(p) for p in verify_audit_chain(s)]
    assert any("carry no key" in p for p in unvouched)
    with uow() as s:
        reg.add_owner(s, ADMIN, "state", "全民所有", "局")
    with uow() as s:
        assert verify_audit_chain(s) == []
        keys = s.execute(text("SELECT key_id FROM audit_log ORDER BY seq")).scalars().all()
    assert keys[0] is None and keys[-1] is not None


def test_every_column_type_replays_identically(uow) -> None:  # type: ignore[no-untyped-def]
    """Decimals rounded by the column, datetimes, dates, geometries, floats: no false alarm."""
    with uow() as s:
        reg.create_register(s, ADMIN, "WH", "register", 4547)
        owner = reg.add_owner(s, ADMIN, "state", "全民所有", "局")
        parcel = reg.register_parcel(
            s, ADMIN, "WH", "P1", "forest", "420102001", square(0.123456789, 0.5), owner.id
        )
        reg.grant_right(  # 7 decimal places into a scale-6 column: rounded half-even
            s, ADMIN, parcel.id, "contracting", "甲", Decimal("0.3333335"), D(2020, 1, 1), None
        )
    with uow() as s:
        assert verify_audit_chain(s) == []
        share = s.execute(text("SELECT share FROM rights WHERE id = 2")).scalar_one()
    assert Decimal(str(share)) == Decimal("0.333334")
