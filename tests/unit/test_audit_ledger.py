"""The checkpoints file: the last checkpoint of each center, read from the file's end."""
import json

from services.audit import ledger as ledger_module
from services.audit.ledger import Ledger


def checkpoint(center, size):
    return {"center": center, "origin": f"o/{center}", "tree_size": size, "root_hash": "00" * 32,
            "note": "n\\n", "signed_at": "2026-12-01T00:00:00.000Z"}


def test_the_last_checkpoint_of_each_center_survives_a_restart_and_a_torn_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "BLOCK", 256)  # many blocks: lines cut across block ends
    path = tmp_path / "audit.checkpoints.jsonl"
    written = Ledger(path)
    for size in range(1, 400):
        written.append(checkpoint("hue-vyda", size))
        if size % 7 == 0:
            written.append(checkpoint("hue-phuxuan", size // 7))
    written.append(checkpoint("hue-vyda", 398))  # a signer that finished after the one of 399
    with path.open("a") as fh:
        fh.write('{"center": "hue-vyda", "tree_si')  # a power cut mid-write
    for centers in (None, ["hue-vyda", "hue-phuxuan"]):
        read = Ledger(path, centers)
        assert read.last("hue-vyda")["tree_size"] == 399 and read.last("hue-phuxuan")["tree_size"] == 57
        assert read.last("hue-thuanhoa") is None
    assert Ledger(tmp_path / "none.jsonl").last("hue-vyda") is None
    after = Ledger(path)
    after.append(checkpoint("hue-vyda", 400))  # the torn line is left alone, the new one on a line of its own
    assert Ledger(path, ["hue-vyda"]).last("hue-vyda")["tree_size"] == 400
    assert json.loads(path.read_text().splitlines()[0])["tree_size"] == 1


def test_appending_keeps_the_largest_of_two_signatures_finishing_out_of_order(tmp_path):
    ledger = Ledger(tmp_path / "c.jsonl")
    ledger.append(checkpoint("hue-vyda", 12))
    ledger.append(checkpoint("hue-vyda", 10))
    assert ledger.last("hue-vyda")["tree_size"] == 12
