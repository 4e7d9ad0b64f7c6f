"""The citizen's lookup code and the lockout of a dossier's lookup: what the code
looks like, what a citizen may type for it, what the dossier keeps of it, and how
many wrong codes a stranger gets, with time passed in and a real store
(mongomock, or MONGO_URI), concurrent guesses included."""
from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from onestop.catalog import load_catalog
from onestop.errors import Forbidden, TooManyRequests
from onestop.timestamps import utcnow
from services.intake import handlers
from services.intake.domain import CODE_ALPHABET, LOOKUP_CODE, RATING_CODE, LookupLock
from services.intake.store import IntakeRepository
from onestop.web.auth import Principal
from tests.support.samples import dossier
from tests.support.fakes import ready

CATALOG = load_catalog()
COUNTER = Principal("counter-01", "counter_staff", frozenset({"hue-vyda"}))
LOCK = LookupLock(5, 900)
WRONG = "ABCDE-FGHJK"

# ---- the code ------------------------------------------------------------------


def test_a_lookup_code_is_10_characters_of_the_unambiguous_alphabet_shown_in_two_groups():
    codes = {LOOKUP_CODE.new() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(c) == 10 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(CODE_ALPHABET) and len(CODE_ALPHABET) == 31
    assert LOOKUP_CODE.shown("K7P2QX9MAB") == "K7P2Q-X9MAB"
    assert math.isclose(LOOKUP_CODE.bits, 10 * math.log2(31)) and LOOKUP_CODE.bits > 49.5


def test_the_code_comes_from_the_random_choice_it_is_given():
    picks = iter("K7P2QX9MAB")
    assert LOOKUP_CODE.new(choice=lambda alphabet: next(picks)) == "K7P2QX9MAB"


@pytest.mark.parametrize("typed", [
    "K7P2Q-X9MAB", "K7P2QX9MAB", "k7p2q-x9mab", " K7P2Q X9MAB ", "K7P2Q–X9MAB",  # an en dash from a phone keyboard
    "K7P2Q.X9MAB", "Ｋ７Ｐ２Ｑ－Ｘ９ＭＡＢ",  # full-width, as some input methods type
])
def test_what_a_citizen_may_type_is_the_same_code(typed):
    assert LOOKUP_CODE.normalize(typed) == "K7P2QX9MAB"
    assert LOOKUP_CODE.sha256(typed) == hashlib.sha256(b"K7P2QX9MAB").hexdigest()


@pytest.mark.parametrize("typed", [
    "", None, "K7P2Q", "K7P2Q-X9MAB-C", "K7P2Q-X9MA0", "K7P2Q-X9MAO", "K7P2Q-X9MA1", "K7P2Q-X9MAI", "K7P2Q-X9MAL",
    "K7P2Q_X9MAB", "K7P2Q-X9MA\u0110", "K7P2Q-X9MA$",
])
def test_anything_else_is_refused_saying_what_a_code_looks_like(typed):
    with pytest.raises(ValueError) as refused:
        LOOKUP_CODE.normalize(typed)
    assert "10 letters and digits" in str(refused.value) and "no 0, O, 1, I or L" in str(refused.value)
    assert "receipt" in str(refused.value)


def test_the_stored_hash_matches_only_its_own_code():
    stored = LOOKUP_CODE.sha256("K7P2Q-X9MAB")
    assert LOOKUP_CODE.matches("K7P2QX9MAB", stored)
    assert not LOOKUP_CODE.matches("K7P2QX9MAC", stored)
    assert not LOOKUP_CODE.matches("K7P2QX9MAB", None) and not LOOKUP_CODE.matches("K7P2QX9MAB", "")


def test_the_rating_code_keeps_its_form():
    assert RATING_CODE.normalize("k7p2-qx9m") == "K7P2QX9M" and RATING_CODE.shown("K7P2QX9M") == "K7P2QX9M"
    assert len(RATING_CODE.new()) == 8


# ---- the lockout rule -----------------------------------------------------------

def test_a_lock_needs_at_least_one_wrong_code_and_some_time():
    for after, seconds in ((0, 900), (5, 0), (5, -1)):
        with pytest.raises(ValueError, match="LOOKUP_LOCK_AFTER"):
            LookupLock(after, seconds)


def test_the_lock_lasts_from_the_last_wrong_code():
    at = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    guard = {"failures": 5, "last_failure_at": at}
    assert LOCK.locked_for(guard, at) == 900 and LOCK.locked_for(guard, at + timedelta(seconds=899.5)) == 1
    assert LOCK.locked_for(guard, at + timedelta(seconds=900)) == 0
    assert LOCK.locked_for({**guard, "failures": 4}, at) == 0
    naive = {**guard, "last_failure_at": at.replace(tzinfo=None)}  # as MongoDB may hand it back
    assert LOCK.locked_for(naive, at) == 900


# ---- the lockout with a real store ---------------------------------------------

@pytest.fixture
def repo(mongo_db):
    return ready(IntakeRepository(mongo_db("intake")))


@pytest.fixture
def taken(repo):
    """A dossier in the store and the lookup code printed on its receipt."""
    submission = handlers.submit_dossier(dossier(), catalog=CATALOG, repo=repo, now=utcnow(), caller=COUNTER)
    return submission.dossier["code"], submission.lookup_code


def look(repo, code, proof, now, lock=LOCK, stale=None):
    """The lookup as the endpoint makes it; `stale` is a dossier read before others wrote."""
    return handlers.status_view(stale or repo.get(code), CATALOG, LOOKUP_CODE.normalize(proof), repo=repo,
                                lock=lock, now=now)


def outcome(call) -> str:
    try:
        call()
        return "ok"
    except Forbidden:
        return "wrong"
    except TooManyRequests as exc:
        return f"locked {exc.retry_after}"


def test_five_wrong_codes_lock_for_15_minutes_then_the_right_code_opens_again(repo, taken):
    code, right = taken
    t0 = utcnow()
    assert [outcome(lambda: look(repo, code, WRONG, t0)) for _ in range(5)] == ["wrong"] * 5
    assert outcome(lambda: look(repo, code, WRONG, t0 + timedelta(seconds=60))) == "locked 840"
    assert outcome(lambda: look(repo, code, right, t0 + timedelta(seconds=899))) == "locked 1"  # the right one too
    assert repo.lookup_guard(code)["failures"] == 5  # what was refused while locked was not counted
    opened = t0 + timedelta(seconds=900)
    assert look(repo, code, right, opened)["code"] == code
    assert repo.lookup_guard(code) is None  # the right code clears the count


def test_after_the_lock_a_wrong_code_starts_a_new_count(repo, taken):
    code, _ = taken
    t0 = utcnow()
    for _ in range(5):
        outcome(lambda: look(repo, code, WRONG, t0))
    later = t0 + timedelta(seconds=900)
    with pytest.raises(Forbidden) as wrong:
        look(repo, code, WRONG, later)
    assert "4 more wrong codes" in wrong.value.message and repo.lookup_guard(code)["failures"] == 1


def test_wrong_codes_far_apart_never_add_up_to_a_lock(repo, taken):
    code, right = taken
    t0 = utcnow()
    for day in range(10):  # a citizen who mistypes once a day
        assert outcome(lambda: look(repo, code, WRONG, t0 + timedelta(days=day))) == "wrong"
    assert repo.lookup_guard(code)["failures"] == 1
    assert look(repo, code, right, t0 + timedelta(days=10))["code"] == code


def test_concurrent_wrong_codes_read_before_any_was_counted_still_stop_at_five(repo, taken):
    code, right = taken
    stale, now = repo.get(code), utcnow()  # every request read the dossier before any wrote
    outcomes = [outcome(lambda: look(repo, code, WRONG, now, stale=stale)) for _ in range(20)]
    assert outcomes.count("wrong") == 5 and outcomes.count("locked 900") == 15
    assert repo.lookup_guard(code)["failures"] == 5


def test_the_right_code_asked_before_a_lock_does_not_lift_it(repo, taken):
    code, right = taken
    now = utcnow()
    outcome(lambda: look(repo, code, WRONG, now))
    citizens_read = repo.get(code)  # one wrong code so far
    for _ in range(4):
        outcome(lambda: look(repo, code, WRONG, now))
    assert look(repo, code, right, now, stale=citizens_read)["code"] == code  # asked before the lock: answered
    assert repo.lookup_guard(code)["failures"] == 5
    assert outcome(lambda: look(repo, code, right, now)) == "locked 900"


def test_concurrent_wrong_codes_at_once_count_no_more_than_five(repo, taken):
    code, _ = taken
    now = utcnow()
    with ThreadPoolExecutor(10) as pool:  # green threads (eventlet), real I/O interleaving on MONGO_URI
        outcomes = list(pool.map(lambda _: outcome(lambda: look(repo, code, WRONG, now)), range(30)))
    assert outcomes.count("wrong") == 5 and outcomes.count("locked 900") == 25
    assert repo.lookup_guard(code)["failures"] == 5


def test_one_dossiers_lock_leaves_the_others_open(repo, taken):
    code, _ = taken
    other = handlers.submit_dossier(dossier(), catalog=CATALOG, repo=repo, now=utcnow(), caller=COUNTER)
    now = utcnow()
    for _ in range(6):
        outcome(lambda: look(repo, code, WRONG, now))
    assert look(repo, other.dossier["code"], other.lookup_code, now)["code"] == other.dossier["code"]


def test_the_settings_name_the_limit_and_the_time():
    from onestop.config import Settings
    settings = Settings.load({"LOOKUP_LOCK_AFTER": "3", "LOOKUP_LOCK_SECONDS": "60"})
    assert LookupLock(settings.lookup_lock_after, settings.lookup_lock_seconds) == LookupLock(3, 60.0)
    default = Settings.load({})
    assert (default.lookup_lock_after, default.lookup_lock_seconds) == (5, 900.0)
