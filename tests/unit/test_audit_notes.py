"""Checkpoints as C2SP signed notes, and the keys file that signs them."""
import base64
import json
import os
import stat

import pytest

from services.audit import keys
from services.audit.notes import (Checkpoint, NoteError, SigningKey, Verifier, cosignature_message,
                                  open_checkpoint, sign_checkpoint, split_note)

# golang.org/x/mod/sumdb/note's own test vector (note_test.go): a note any C2SP implementation must accept.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
                     "ngotpRZb6KE6RyyBwJnAM=\n")
ORIGIN = "onestop.local/audit/hue-vyda"
ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_the_go_reference_note_verifies_with_its_key():
    verifier = Verifier.parse(GO_VKEY)
    text, signatures = split_note(GO_NOTE)
    assert text == GO_TEXT and [(n, s[:4].hex()) for n, s in signatures] == [("PeterNeumann", "c74f20a3")]
    assert verifier.verifies(signatures[0][1][4:], text.encode())
    assert not verifier.verifies(signatures[0][1][4:], text.replace("then", "than").encode())


def test_a_signed_checkpoint_reads_back_with_its_verifier_key_and_nothing_else():
    key = SigningKey.generate()
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), [key])
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "8", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith(f"\u2014 {ORIGIN} ") and lines[5] == ""
    vkey = key.verifier(ORIGIN).vkey
    assert open_checkpoint(note, [Verifier.parse(vkey)]) == Checkpoint(ORIGIN, 8, ROOT)
    with pytest.raises(NoteError):
        open_checkpoint(note.replace("\n8\n", "\n9\n"), [Verifier.parse(vkey)])
    with pytest.raises(NoteError):  # the same key under another center's name: another key id
        open_checkpoint(note, [key.verifier("onestop.local/audit/hue-phuxuan")])
    with pytest.raises(NoteError):
        open_checkpoint(note, [SigningKey.generate().verifier(ORIGIN)])


def test_during_a_rotation_each_checkpoint_verifies_with_the_old_key_or_the_new_one():
    old, new = SigningKey.generate(), SigningKey.generate()
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), [old, new])
    assert len(split_note(note)[1]) == 2
    for key in (old, new):
        assert open_checkpoint(note, [key.verifier(ORIGIN)]).size == 3


@pytest.mark.parametrize("vkey", ["nonsense", "name+00000000+AQID", GO_VKEY.replace("c74f20a3", "c74f20a4")])
def test_a_malformed_verifier_key_is_refused(vkey):
    with pytest.raises(NoteError):
        Verifier.parse(vkey)


@pytest.mark.parametrize("note", ["no signatures\n", "a\n1\nAA==\n\nnot a signature line\n",
                                  "a\n1\nAA==\n\n\u2014 a @@@\n"])
def test_a_malformed_note_is_refused(note):
    with pytest.raises(NoteError):
        split_note(note)


def test_a_cosignature_message_is_the_c2sp_cosignature_v1_text():
    message = cosignature_message(Checkpoint(ORIGIN, 8, ROOT), 1700000000)
    assert message.decode() == f"cosignature/v1\ntime 1700000000\n{ORIGIN}\n8\n{base64.b64encode(ROOT).decode()}\n"


def test_the_keys_file_is_private_and_rotates_and_retires(tmp_path):
    path = tmp_path / "keys" / "audit-signing.json"
    ring = keys.init(path, "2026-12-01T00:00:00Z")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(keys.KeyFileError, match="exists already"):
        keys.init(path, "2026-12-01T00:00:00Z")
    first = ring.entries[0]
    second = keys.rotate(path, "2026-12-02T00:00:00Z")
    assert len(keys.load(path).active) == 2
    keys.retire(path, first.public[:12])
    ring = keys.load(path)
    assert [e.status for e in ring.entries] == ["retired", "active"]
    assert [k.public for k in ring.active] == [second.key.public]
    assert {k["status"] for k in ring.listing({"hue-vyda": ORIGIN})} == {"active", "retired"}
    with pytest.raises(keys.KeyFileError, match="only active key"):
        keys.retire(path, second.public)


def test_a_missing_or_broken_keys_file_says_what_to_do(tmp_path):
    with pytest.raises(keys.KeyFileError, match="python -m services.audit.keys init"):
        keys.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"keys": [{"seed": "x"}]}))
    with pytest.raises(keys.KeyFileError, match="not readable"):
        keys.load(broken)


def test_the_keys_command_lists_the_verifier_keys_of_every_centers_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_KEYS_FILE", str(tmp_path / "keys.json"))
    assert keys.main(["init"]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]
    assert len(listed) == 4 and all(line.split()[0] == "active" for line in listed)
    assert {Verifier.parse(line.split()[-1]).name for line in listed} == {
        f"onestop.local/audit/{c}" for c in ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")}
    assert keys.main(["retire", "nothing"]) == 1
