"""`onestop backup` / `onestop restore` on real SQLite files, through the command line an operator types."""
import os
import subprocess
import sys

from onestop.storage.sqlite import Client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onestop.ops.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_a_backup_taken_while_in_use_restores_only_once_the_service_let_go(tmp_path):
    data, backups = tmp_path / "data", tmp_path / "backups"
    env = {"DATA_DIR": str(data), "MONGO_DB_PREFIX": "b_", "MONGO_URI": ""}
    client = Client(data)
    dossiers = client["b_intake"]["dossiers"]
    dossiers.insert_one({"_id": "VYDA-261201-0001", "status": "received"})
    client["b_routing"]["assignments"].insert_one({"_id": "VYDA-261201-0001", "open": True})

    done = _cli(env, "backup", "--to", str(backups))  # the store is open here, as a running service holds it
    assert done.returncode == 0, done.stderr
    assert "intake" in done.stdout and "routing" in done.stdout and "integrity ok" in done.stdout
    (copy,) = backups.iterdir()
    assert {p.name for p in copy.iterdir()} == {"b_intake.sqlite3", "b_routing.sqlite3"}

    dossiers.insert_one({"_id": "VYDA-261201-0002", "status": "received"})  # after the backup
    refused = _cli(env, "restore", str(copy))
    assert refused.returncode == 1 and "still has its file open" in refused.stderr
    assert dossiers.count_documents({}) == 2  # nothing was touched

    client.close()  # the services stopped
    done = _cli(env, "restore", str(copy), "--service", "intake")
    assert done.returncode == 0, done.stderr
    assert "unknown_dossier" in done.stdout  # it says what happens to events about newer dossiers
    again = Client(data)
    assert [d["_id"] for d in again["b_intake"]["dossiers"].find({})] == ["VYDA-261201-0001"]
    assert again["b_routing"]["assignments"].count_documents({}) == 1
    again.close()


def test_restore_refuses_a_damaged_backup_and_changes_nothing(tmp_path):
    data, broken = tmp_path / "data", tmp_path / "broken"
    env = {"DATA_DIR": str(data), "MONGO_DB_PREFIX": "b_", "MONGO_URI": ""}
    client = Client(data)
    client["b_audit"]["entries"].insert_one({"_id": "hue-vyda:000000000001"})
    client.close()
    broken.mkdir()
    (broken / "b_audit.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    done = _cli(env, "restore", str(broken))
    assert done.returncode != 0 and "nothing was restored" in (done.stderr + done.stdout)
    again = Client(data)
    assert again["b_audit"]["entries"].count_documents({}) == 1
    again.close()


def test_nothing_to_back_up_is_said_plainly(tmp_path):
    done = _cli({"DATA_DIR": str(tmp_path / "empty"), "MONGO_DB_PREFIX": "b_", "MONGO_URI": ""}, "backup",
                "--to", str(tmp_path / "b"))
    assert done.returncode == 1 and "no store files" in done.stderr
