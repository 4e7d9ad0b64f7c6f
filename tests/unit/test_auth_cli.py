"""`onestop auth rotate-key` and `onestop auth jwks` on a key file of the test's own."""
from __future__ import annotations

import json

from onestop.ops import cli
from onestop.web.auth import SigningKeys, TokenIssuer


def test_rotate_key_makes_then_rotates_the_key_set_and_writes_the_public_jwks(tmp_path, capsys):
    keys, jwks = tmp_path / "keys.json", tmp_path / "public" / "jwks.json"
    assert cli.main(["auth", "rotate-key", "--keys", str(keys), "--jwks-out", str(jwks)]) == 0
    first = SigningKeys.load(keys).current()["kid"]
    assert "made the key set" in capsys.readouterr().out
    assert cli.main(["auth", "rotate-key", "--keys", str(keys), "--jwks-out", str(jwks)]) == 0
    said = capsys.readouterr().out
    second = SigningKeys.load(keys).current()["kid"]
    assert second != first and f"signing with {second}; {first} still verifies" in said
    published = json.loads(jwks.read_text())
    assert {k["kid"] for k in published["keys"]} == {first, second}
    assert all("d" not in k and k["alg"] == "ES256" for k in published["keys"])
    assert cli.main(["auth", "jwks", "--keys", str(keys)]) == 0
    assert json.loads(capsys.readouterr().out) == published
    assert cli.main(["auth", "retire-key", second, "--keys", str(keys)]) == 2  # the current one: rotate first
    assert "rotate first" in capsys.readouterr().err
    assert cli.main(["auth", "retire-key", first, "--keys", str(keys), "--jwks-out", str(jwks)]) == 0
    assert [k["kid"] for k in json.loads(jwks.read_text())["keys"]] == [second]


def test_the_token_command_mints_with_the_key_set_of_auth_signing_keys(tmp_path, capsys, monkeypatch):
    SigningKeys.generate(tmp_path / "keys.json")
    monkeypatch.setenv("AUTH_SIGNING_KEYS", str(tmp_path / "keys.json"))
    assert cli.main(["token", "auditor", "--user", "auditor-01", "--center", "hue-vyda"]) == 0
    token = capsys.readouterr().out.strip()
    assert TokenIssuer(SigningKeys.load(tmp_path / "keys.json")).verifier().verify(token).user == "auditor-01"
    monkeypatch.setenv("AUTH_SIGNING_KEYS", str(tmp_path / "missing.json"))
    assert cli.main(["token", "auditor", "--user", "a", "--center", "hue-vyda"]) == 2
    assert "no signing key set" in capsys.readouterr().err
