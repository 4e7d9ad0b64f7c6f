"""The revocations a service knows: a jti, a session or a user refused until the entry expires."""
from __future__ import annotations

import pytest

from onestop.web.auth import Principal
from onestop.web.revocation import Revocations, record

BY = {"id": "ops-01", "role": "operator"}


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def who(jti="j-1", sid="s-1", user="officer-07", iat=999_000) -> Principal:
    return Principal(user=user, role="officer", centers=frozenset({"hue-vyda"}), department="vp", jti=jti, sid=sid,
                     issued_at=iat, expires_at=iat + 3600)


def test_a_revoked_jti_or_session_is_refused_until_the_entry_expires():
    clock = Clock()
    known = Revocations(clock=clock)
    known.apply(record(jti="j-1", until=int(clock.now) + 60, by=BY, now=clock.now))
    known.apply(record(sid="s-9", until=int(clock.now) + 120, by=BY, now=clock.now))
    assert known.refuses(who()) and known.refuses(who(jti="j-2", sid="s-9"))
    assert not known.refuses(who(jti="j-2", sid="s-2"))
    clock.now += 61
    assert not known.refuses(who()) and known.refuses(who(jti="j-2", sid="s-9"))
    clock.now += 100
    known.sweep()
    assert known.entries == {"jti": {}, "sid": {}}


def test_a_user_revocation_refuses_tokens_issued_before_it_only():
    clock = Clock()
    known = Revocations(clock=clock)
    known.apply(record(user="officer-07", until=int(clock.now) + 3600, by=BY, now=clock.now))
    assert known.refuses(who(iat=int(clock.now) - 1))  # signed in before: refused
    assert not known.refuses(who(iat=int(clock.now) + 1))  # signed in again after: works
    assert not known.refuses(who(user="officer-08", iat=int(clock.now) - 1))


def test_an_entry_already_past_is_not_kept_and_a_bad_record_is_skipped():
    clock = Clock()
    known = Revocations(clock=clock)
    known.apply({"v": 1, "at": clock.now - 100, "until": int(clock.now) - 1, "jti": "old"})
    known.apply({"v": 1, "until": "soon", "jti": "x"})
    known.apply({"v": 1, "at": clock.now, "until": int(clock.now) + 5, "nothing": "named"})
    assert known.applied == 0 and not known.refuses(who(jti="old"))


@pytest.mark.parametrize("kwargs,message", [
    ({}, "exactly one"), ({"jti": "a", "sid": "b"}, "exactly one"), ({"jti": ""}, "non-empty"),
    ({"jti": "a", "until": 10}, "future"), ({"jti": "a", "by": {}}, "actor"),
])
def test_a_record_needs_one_target_a_future_until_and_an_actor(kwargs, message):
    args = {"until": 2_000_000, "by": BY, "now": 1_000_000.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        record(**args)
