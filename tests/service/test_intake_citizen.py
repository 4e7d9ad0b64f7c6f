"""The citizen's side of a dossier's life, through nameko's worker_factory with a
real (mongomock or MONGO_URI) store: the status as routing's lifecycle events
arrive (in order, out of order, twice), the lookup with and without the lookup
code (and its lockout after wrong codes), the rating, and the rate limit."""
import hashlib
import json
import re

import orjson
import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from onestop.config import Settings
from onestop.errors import Conflict, UnknownDossier
from onestop.timestamps import utcnow
from onestop.web.http import status_of
from services.intake import handlers
from services.intake.domain import CODE_ALPHABET, RATING_ALPHABET, LookupLock
from onestop.web.ratelimit import RateLimiter, parse_rate, parse_trusted
from services.intake.service import IntakeService
from onestop.web.throttle import ClientThrottle
from tests.support.samples import dossier
from tests.support.staff import COUNTER, authenticator
from tests.service.intake_events import COLLECT_AT, DOCUMENTS, Life

LOOKUP_CODE = re.compile(r"^[A-Z2-9]{5}-[A-Z2-9]{5}$")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def repo(intake_repo):
    return intake_repo


@pytest.fixture
def clock():
    return Clock()


def make_service(repo, clock, rate="1000/60", trusted=(), lock=LookupLock(5, 900)):
    throttle = ClientThrottle(RateLimiter(*parse_rate(rate), clock=clock), parse_trusted(trusted))
    return worker_factory(IntakeService, store=repo, settings=Settings.load({}), throttle=throttle,
                          lockout=lock, staff=authenticator())


@pytest.fixture
def intake(repo, clock):
    return make_service(repo, clock)


def post(service, body, key=None):
    headers = {**COUNTER, **({"Idempotency-Key": key} if key else {})}
    request = EnvironBuilder(method="POST", path="/api/v1/dossiers", data=orjson.dumps(body),
                             content_type="application/json", headers=headers).get_request()
    response = service.submit(request)
    return response.status_code, json.loads(response.get_data()), response.headers


def submit(service, repo, **citizen):
    """A dossier taken in at the counter: (code, the rating code the citizen is sent)."""
    got, receipt, _ = post(service, dossier(**citizen))
    assert got == 201
    return receipt["code"], sent_to_the_citizen(repo, receipt["code"])["rating_code"]


def sent_to_the_citizen(repo, code):
    """What the private contact event tells notification (playing notification)."""
    return next(e["event"]["data"] for e in repo.dossiers.find_one({"_id": code})["outbox"]
                if e["event"]["type"] == "citizen.contact.v1")


def status(service, code, query=None, headers=None, addr="203.0.113.5"):
    request = EnvironBuilder(method="GET", path=f"/api/v1/dossiers/{code}", query_string=query or {},
                             headers=headers or {}, environ_base={"REMOTE_ADDR": addr}).get_request()
    response = service.public_status(request, code)
    return response.status_code, json.loads(response.get_data()), response.headers


def details(service, code):
    got, body, _ = status(service, code, {"lookup_code": sent_to_the_citizen(service.store, code)["lookup_code"]})
    assert got == 200, body
    return body


def rate(service, code, body, raw=None, content_type="application/json", addr="203.0.113.5"):
    request = EnvironBuilder(method="POST", path=f"/api/v1/dossiers/{code}/rating",
                             data=raw if raw is not None else orjson.dumps(body), content_type=content_type,
                             environ_base={"REMOTE_ADDR": addr}).get_request()
    response = service.rate(request, code)
    return response.status_code, json.loads(response.get_data()), response.headers


def deliver(service, *events):
    for event in events:
        service.on_routing_event(event)


def returned_dossier(intake, repo):
    code, rating_code = submit(intake, repo)
    deliver(intake, *Life(code).through_a_supplement().events)
    return code, rating_code


def untouched(repo, code):
    """Nothing half-written: no rating, and nothing queued beyond the submission's two events."""
    stored = repo.dossiers.find_one({"_id": code})
    return stored.get("rating") is None and len(stored["outbox"]) == 2


# --- the rating code ------------------------------------------------------------

def test_the_citizen_is_sent_a_rating_code_the_dossier_keeps_only_its_hash(intake, repo):
    code, rating_code = submit(intake, repo)
    other_code, other = submit(intake, repo)
    assert len(rating_code) == 8 and set(rating_code) <= set(RATING_ALPHABET) and other != rating_code
    stored = repo.dossiers.find_one({"_id": code})
    assert stored["rating_code_sha256"] == hashlib.sha256(rating_code.encode()).hexdigest()
    received = next(e["event"] for e in stored["outbox"] if e["event"]["type"] == "dossier.received.v1")
    assert rating_code not in json.dumps(received)  # only the private contact event carries it
    outside_outbox = {k: v for k, v in stored.items() if k != "outbox"}
    assert rating_code not in json.dumps(outside_outbox, default=str)


# --- the status lookup ----------------------------------------------------------

def test_without_proof_only_the_public_status_is_shown(intake, repo):
    code, _ = submit(intake, repo)
    got, body, headers = status(intake, code.lower())
    assert got == 200 and body["code"] == code and body["status"] == "received"
    assert body["status_label"] == {"vi": "Đã tiếp nhận", "en": "Received"}
    assert body["procedure"]["name_vi"] == "Đăng ký khai sinh" and body["procedure"]["name_en"]
    assert "?lookup_code=" in body["see_more"]["en"] and "?lookup_code=" in body["see_more"]["vi"]
    for hidden in ("appointment_date", "steps", "received_at", "supplement", "result", "rated"):
        assert hidden not in body
    text = json.dumps(body, ensure_ascii=False)
    for pii in ("Nguyễn Văn An", "912345678", "046095001234", "an.nguyen"):
        assert pii not in text
    assert headers["Cache-Control"] == "no-store"


# --- the lookup code ------------------------------------------------------------

def test_the_receipt_prints_the_lookup_code_once_and_the_dossier_keeps_only_its_hash(intake, repo):
    body = dossier()
    got, receipt, headers = post(intake, body, key="counter-3-000777")
    code, printed = receipt["code"], receipt["lookup_code"]
    assert got == 201 and LOOKUP_CODE.match(printed) and set(printed) - {"-"} <= set(CODE_ALPHABET)
    assert headers["Cache-Control"] == "no-store"
    assert sent_to_the_citizen(repo, code)["lookup_code"] == printed  # the SMS and email say the same
    stored = repo.dossiers.find_one({"_id": code})
    assert stored["lookup_code_sha256"] == hashlib.sha256(printed.replace("-", "").encode()).hexdigest()
    received = next(e["event"] for e in stored["outbox"] if e["event"]["type"] == "dossier.received.v1")
    assert printed not in json.dumps(received) and printed.replace("-", "") not in json.dumps(received)
    outside_outbox = json.dumps({k: v for k, v in stored.items() if k != "outbox"}, default=str)
    assert printed not in outside_outbox and printed.replace("-", "") not in outside_outbox

    again, replayed, headers = post(intake, body, key="counter-3-000777")  # the counter's retry
    assert again == 201 and headers["Idempotent-Replayed"] == "true" and replayed["code"] == code
    assert replayed["lookup_code"] is None  # not kept, so not shown again: the citizen has it by SMS and email
    other = post(intake, dossier())[1]["lookup_code"]
    assert other != printed


def test_the_lookup_code_shows_the_details_however_it_is_typed(intake, repo):
    code, _ = submit(intake, repo)
    printed = sent_to_the_citizen(repo, code)["lookup_code"]
    got, by_query, headers = status(intake, code, {"lookup_code": printed})
    assert got == 200 and headers["Vary"] == "X-Lookup-Code" and headers["Cache-Control"] == "no-store"
    for typed in (printed.replace("-", ""), printed.lower(), " " + printed.replace("-", " ") + " "):
        assert status(intake, code, {"lookup_code": typed})[1] == by_query
    got, by_header, _ = status(intake, code, headers={"X-Lookup-Code": printed})
    assert got == 200 and by_header == by_query
    assert by_query["appointment_date"] >= by_query["received_at"][:10]
    assert [s["step"] for s in by_query["steps"]] == ["received"]
    assert by_query["steps"][0]["label"]["vi"] == "Tiếp nhận hồ sơ" and by_query["rated"] is False
    assert "see_more" not in by_query
    assert "Nguyễn Văn An" not in json.dumps(by_query, ensure_ascii=False)


def test_a_wrong_lookup_code_is_forbidden_and_says_what_is_left(intake, repo):
    code, _ = submit(intake, repo)
    other, _ = submit(intake, repo)
    got, body, _ = status(intake, code, {"lookup_code": sent_to_the_citizen(repo, other)["lookup_code"]})
    assert got == 403 and body["error"] == "forbidden" and body["fields"][0]["field"] == "lookup_code"
    assert "does not belong to this dossier" in body["message"] and "4 more wrong codes" in body["message"]
    assert "appointment_date" not in body
    assert repo.dossiers.find_one({"_id": other}).get("lookup_guard") is None  # the other dossier is untouched


def test_five_wrong_codes_lock_the_lookup_even_for_the_right_code(intake, repo):
    code, _ = submit(intake, repo)
    right = sent_to_the_citizen(repo, code)["lookup_code"]
    answers = [status(intake, code, {"lookup_code": "ABCDE-FGHJK"}) for _ in range(5)]
    assert [a[0] for a in answers] == [403] * 5
    assert "now locked for 15 minutes" in answers[-1][1]["message"]
    for proof in ("ABCDE-FGHJK", right):
        got, body, headers = status(intake, code, {"lookup_code": proof})
        assert got == 429 and body["error"] == "lookup_locked" and body["fields"][0]["field"] == "lookup_code"
        assert 899 <= int(headers["Retry-After"]) <= 900 and "public status stays open" in body["message"]
    assert status(intake, code)[0] == 200  # without a code: the public status
    assert repo.dossiers.find_one({"_id": code})["lookup_guard"]["failures"] == 5  # refused, not counted


def test_the_right_code_resets_the_count_of_wrong_ones(intake, repo):
    code, _ = submit(intake, repo)
    for _ in range(4):
        assert status(intake, code, {"lookup_code": "ABCDE-FGHJK"})[0] == 403
    details(intake, code)
    assert "lookup_guard" not in repo.dossiers.find_one({"_id": code})
    got, body, _ = status(intake, code, {"lookup_code": "ABCDE-FGHJK"})
    assert got == 403 and "4 more wrong codes" in body["message"]


@pytest.mark.parametrize("query,headers,field", [
    ({"lookup_code": "K7P2Q"}, {}, "lookup_code"),  # too short
    ({"lookup_code": "K7P2Q-X9MAB-C"}, {}, "lookup_code"),  # too long
    ({"lookup_code": "K7P2Q-X9MA0"}, {}, "lookup_code"),  # 0 is not in the alphabet
    ({"lookup_code": ""}, {}, "lookup_code"),
    ({"lookup_code": "K7P2Q-X9MAB; drop"}, {}, "lookup_code"),
    ({}, {"X-Lookup-Code": "K7P2Q"}, "X-Lookup-Code"),
    ({"lookup_code": "K7P2Q-X9MAB"}, {"X-Lookup-Code": "ABCDE-FGHJK"}, "lookup_code"),  # the two disagree
    ({"phone_last4": "5678"}, {}, "phone_last4"),  # retired: 3 of its digits were public
    ({}, {"X-Phone-Last4": "5678"}, "X-Phone-Last4"),
])
def test_a_malformed_or_retired_proof_is_refused_with_field_and_reason(intake, repo, query, headers, field):
    code, _ = submit(intake, repo)
    got, body, _ = status(intake, code, query, headers)
    assert got == 422 and body["error"] == "validation_failed"
    assert body["fields"][0]["field"] == field and body["fields"][0]["reason"]
    assert "lookup_guard" not in repo.dossiers.find_one({"_id": code})  # not a guess: nothing counted


def test_the_retired_phone_proof_says_what_to_give_instead(intake, repo):
    code, _ = submit(intake, repo)
    reason = status(intake, code, {"phone_last4": "5678"})[1]["fields"][0]["reason"]
    assert "no longer accepted" in reason and "lookup_code" in reason and "receipt" in reason


def test_an_unknown_or_malformed_code_is_not_found(intake):
    for code in ("VYDA-200101-9999", "not-a-code"):
        got, body, _ = status(intake, code, {"lookup_code": "ABCDE-FGHJK"})
        assert got == 404 and body["error"] == "not_found"


# --- following the life ---------------------------------------------------------

def test_the_status_follows_a_supplement_loop_to_the_result(intake, repo):
    code, _ = submit(intake, repo)
    life = Life(code)
    seen = []
    for step in (life.routed, life.assigned, lambda: life.act("start", "in_progress"),
                 lambda: life.act("request_supplement", "supplement_requested", reason="Thiếu giấy tờ")):
        deliver(intake, step())
        seen.append(details(intake, code)["status"])
    assert seen == ["routed", "assigned", "in_progress", "supplement_requested"]

    waiting = details(intake, code)
    assert waiting["supplement"]["documents"] == DOCUMENTS and waiting["supplement"]["reason"] == "Thiếu giấy tờ"
    assert waiting["appointment_date"] is None  # the clock stopped; a new date comes with the papers
    assert "hand in the papers" in waiting["next_step"]["en"]

    deliver(intake, life.act("receive_supplement", "supplemented", appointment="2026-02-24"))
    back = details(intake, code)
    assert back["status"] == "supplemented" and back["appointment_date"] == "2026-02-24" and "supplement" not in back

    deliver(intake, life.act("start", "in_progress"), life.act("reassign", officer_id="vyda-o02"),
            life.act("extend_deadline", reason="Cần xác minh thêm", appointment="2026-02-27",
                     previous_due_at="2026-02-24T17:00:00+07:00", previous_appointment_date="2026-02-24"))
    assert details(intake, code)["appointment_date"] == "2026-02-27"

    deliver(intake, life.act("approve", "approved"))
    public = status(intake, code)[1]
    assert public["status"] == "processed" and "result" not in public  # the decision needs the proof
    assert details(intake, code)["result"] == {"decision": "approved"}

    deliver(intake, life.act("mark_result_ready", "result_ready", decision="approved", collect_at=COLLECT_AT))
    ready = details(intake, code)
    assert ready["status"] == "result_ready" and ready["result"]["collect_at"] == COLLECT_AT
    assert ready["status_label"]["en"] == "Result ready for collection"

    deliver(intake, life.act("return_result", "returned", on_time=True))
    done = details(intake, code)
    assert done["status"] == "returned" and done["result"]["returned_at"] and done["rated"] is False
    assert [s["step"] for s in done["steps"]] == [
        "received", "route", "assign", "start", "request_supplement", "receive_supplement", "start",
        "extend_deadline", "approve", "mark_result_ready", "return_result"]  # no change of officer
    extension = next(s for s in done["steps"] if s["step"] == "extend_deadline")
    assert extension["reason"] == "Cần xác minh thêm" and extension["appointment_date"] == "2026-02-27"
    assert all("reason" not in s for s in done["steps"] if s["step"] in ("start", "approve"))


def test_events_out_of_order_and_twice_end_where_routing_is(intake, repo):
    in_order_code, _ = submit(intake, repo)
    shuffled_code, _ = submit(intake, repo)
    deliver(intake, *Life(in_order_code).through_a_supplement().events)
    events = Life(shuffled_code).through_a_supplement().events
    order = [9, 3, 0, 7, 1, 8, 5, 2, 6, 4]  # returned first, supplement received before it was asked
    deliver(intake, *[events[i] for i in order], *[events[i] for i in order[:5]])  # and half of them again
    expected, got = details(intake, in_order_code), details(intake, shuffled_code)
    assert got["status"] == "returned" and got["appointment_date"] == expected["appointment_date"] == "2026-02-27"
    assert got["steps"][1:] == expected["steps"][1:] and len(got["steps"]) == 11  # [0]: each one's receipt
    assert got["result"] == expected["result"] and got["result"]["collect_at"] == COLLECT_AT
    stored = repo.dossiers.find_one({"_id": shuffled_code})
    assert stored["seq"] == 10 and len(stored["history"]) == 11 and stored["supplement"]["documents"] == DOCUMENTS


def test_an_older_event_never_takes_the_state_back(intake, repo):
    code, _ = submit(intake, repo)
    life = Life(code)
    routed, assigned, started = life.routed(), life.assigned(), life.act("start", "in_progress")
    supplement = life.act("request_supplement", "supplement_requested", reason="Thiếu giấy tờ")
    deliver(intake, supplement, started, assigned, routed)
    now = details(intake, code)
    assert now["status"] == "supplement_requested" and now["supplement"]["documents"] == DOCUMENTS
    assert [s["step"] for s in now["steps"]] == ["received", "route", "assign", "start", "request_supplement"]


def test_transfer_and_send_back_loop_back_by_seq(intake, repo):
    code, _ = submit(intake, repo)
    life = Life(code)
    life.routed()
    first_assignment = life.assigned()
    life.act("transfer", "routed", reason="Sai lĩnh vực", department="ktht")
    life.assigned("phuxuan-o04")
    sent_back = life.act("send_back", "received", reason="Cần phân loại lại")
    deliver(intake, *life.events)
    assert details(intake, code)["status"] == "received"
    deliver(intake, first_assignment)  # a late redelivery of an old event changes nothing
    assert details(intake, code)["status"] == "received"
    deliver(intake, life.routed(), life.assigned())
    after = details(intake, code)
    assert after["status"] == "assigned"
    assert [s["step"] for s in after["steps"]] == ["received", "route", "assign", "transfer", "assign",
                                                   "send_back", "route", "assign"]
    assert all("reason" not in s for s in after["steps"])  # staff notes stay with staff
    assert sent_back["data"]["seq"] == 5 and repo.dossiers.find_one({"_id": code})["seq"] == 7


def test_an_event_for_an_unknown_dossier_is_refused_at_once(intake):
    """Intake stores a dossier before it announces it: not having it means its store lost it (no retry helps)."""
    with pytest.raises(UnknownDossier, match="intake has no dossier VYDA-260213-0999"):
        intake.on_routing_event(Life("VYDA-260213-0999").routed())


def test_a_dossier_stored_before_seq_existed_still_moves_forward_only(intake, repo):
    code, _ = submit(intake, repo)
    repo.dossiers.update_one({"_id": code}, {"$unset": {"seq": ""}, "$set": {"status": "assigned", "status_rank": 2}})
    life = Life(code)
    routed = life.routed()
    routed["data"].pop("seq")  # as routing sent it before
    deliver(intake, routed)
    assert details(intake, code)["status"] == "assigned"
    life.assigned()
    deliver(intake, life.act("start", "in_progress"))
    assert details(intake, code)["status"] == "in_progress"


# --- the rating -----------------------------------------------------------------

def test_a_returned_dossier_is_rated_once_and_the_event_goes_with_it(intake, repo):
    code, rating_code = returned_dossier(intake, repo)
    got, body, headers = rate(intake, code, {"rating_code": rating_code.lower(), "score": 5,
                                             "comment": "Nhanh, chu đáo.\nCảm ơn."})
    assert got == 201, body
    assert body["code"] == code and body["rating"]["score"] == 5
    assert body["rating"]["comment"] == "Nhanh, chu đáo.\nCảm ơn." and body["rating"]["rated_at"]
    stored = repo.dossiers.find_one({"_id": code})
    assert stored["rating"]["score"] == 5
    [rated] = [e["event"] for e in stored["outbox"] if e["event"]["type"] == "dossier.rated.v1"]
    assert rated["data"]["score"] == 5 and rated["data"]["code"] == code and rated["actorrole"] == "citizen"
    assert rated["data"]["has_comment"] is True and "comment" not in rated["data"]  # its words stay in intake
    assert rated["id"] == stored["rating"]["event_id"] and rated_event_count(repo, code) == 1
    assert details(intake, code)["rated"] is True and "next_step" not in details(intake, code)

    again, error, _ = rate(intake, code, {"rating_code": rating_code, "score": 1})
    assert again == 409 and error["error"] == "already_rated" and "once per dossier" in error["message"]
    assert repo.dossiers.find_one({"_id": code})["rating"]["score"] == 5 and rated_event_count(repo, code) == 1


def rated_event_count(repo, code):
    return sum(e["event"]["type"] == "dossier.rated.v1" for e in repo.dossiers.find_one({"_id": code})["outbox"])


def test_two_concurrent_ratings_cannot_both_win(intake, repo):
    code, rating_code = returned_dossier(intake, repo)
    stale = repo.get(code)  # both requests read the dossier before either wrote
    handlers.rate_dossier(stale, {"rating_code": rating_code, "score": 4}, repo=repo, now=utcnow())
    with pytest.raises(Conflict) as lost:
        handlers.rate_dossier(stale, {"rating_code": rating_code, "score": 1}, repo=repo, now=utcnow())
    assert status_of(lost.value) == 409 and lost.value.error == "already_rated"
    assert repo.dossiers.find_one({"_id": code})["rating"]["score"] == 4 and rated_event_count(repo, code) == 1


def test_a_dossier_not_returned_yet_cannot_be_rated(intake, repo):
    code, rating_code = submit(intake, repo)
    life = Life(code)
    deliver(intake, life.routed(), life.assigned(), life.act("start", "in_progress"))
    got, body, _ = rate(intake, code, {"rating_code": rating_code, "score": 5})
    assert got == 409 and body["error"] == "not_returned"
    assert "not been returned yet" in body["message"] and "in_progress" in body["message"]
    assert untouched(repo, code)


def test_a_wrong_rating_code_is_forbidden(intake, repo):
    code, rating_code = returned_dossier(intake, repo)
    _, other_code = submit(intake, repo)
    for wrong in (other_code, "ABCDEFGH"):
        got, body, _ = rate(intake, code, {"rating_code": wrong, "score": 5})
        assert got == 403 and body["fields"][0]["field"] == "rating_code"
    assert untouched_rating(repo, code)


def untouched_rating(repo, code):
    return repo.dossiers.find_one({"_id": code}).get("rating") is None and rated_event_count(repo, code) == 0


BAD_RATINGS = [
    ("score 0", {"score": 0}, "score"),
    ("score 6", {"score": 6}, "score"),
    ("fractional score", {"score": 4.5}, "score"),
    ("score 4.0", {"score": 4.0}, "score"),
    ("score as text", {"score": "4"}, "score"),
    ("score true", {"score": True}, "score"),
    ("no score", {"score": None}, "score"),
    ("comment of 1001 characters", {"score": 4, "comment": "x" * 1001}, "comment"),
    ("control characters in comment", {"score": 4, "comment": "tốt\x00"}, "comment"),
    ("no rating code", {"rating_code": None, "score": 4}, "rating_code"),
    ("malformed rating code", {"rating_code": "12345", "score": 4}, "rating_code"),
    ("unknown field", {"score": 4, "stars": 5}, "stars"),
    ("operator object", {"score": {"$gt": 0}}, "score.$gt"),
]


@pytest.mark.parametrize("case,change,field", BAD_RATINGS, ids=[b[0] for b in BAD_RATINGS])
def test_a_bad_rating_is_refused_with_field_and_reason(intake, repo, case, change, field):
    code, rating_code = returned_dossier(intake, repo)
    body = {k: v for k, v in {"rating_code": rating_code, **change}.items() if v is not None}
    got, error, _ = rate(intake, code, body)
    assert got == 422, error
    assert field in [f["field"] for f in error["fields"]] and all(f["reason"] for f in error["fields"])
    assert untouched_rating(repo, code)


def test_a_rating_of_1000_characters_is_kept_whole(intake, repo):
    code, rating_code = returned_dossier(intake, repo)
    got, body, _ = rate(intake, code, {"rating_code": rating_code, "score": 3, "comment": "ạ" * 1000})
    assert got == 201 and len(body["rating"]["comment"]) == 1000


def test_a_rating_needs_a_json_body_and_a_known_dossier(intake, repo):
    code, rating_code = returned_dossier(intake, repo)
    assert rate(intake, code, None, raw=b'{"score": ')[0] == 400
    assert rate(intake, code, {"rating_code": rating_code, "score": 5}, content_type="text/plain")[0] == 415
    assert rate(intake, "VYDA-200101-9999", {"rating_code": rating_code, "score": 5})[0] == 404
    assert untouched_rating(repo, code)


# --- the rate limit -------------------------------------------------------------

def test_lookups_and_ratings_are_rate_limited_per_client_address(repo, clock):
    service = make_service(repo, clock, rate="3/60")
    code, rating_code = returned_dossier(service, repo)
    assert [status(service, code)[0] for _ in range(3)] == [200, 200, 200]
    got, body, headers = status(service, code)
    assert got == 429 and body["error"] == "rate_limited" and headers["Retry-After"] == "20"
    assert "20 seconds" in body["message"]
    limited, _, _ = rate(service, code, {"rating_code": rating_code, "score": 5})  # the same budget
    assert limited == 429 and untouched_rating(repo, code)
    assert status(service, code, addr="198.51.100.7")[0] == 200  # another citizen is not held up
    clock.now += 20
    assert status(service, code)[0] == 200
    assert status(service, code)[0] == 429


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(repo, clock):
    direct = make_service(repo, clock, rate="2/60")
    code, _ = submit(direct, repo)
    spoofed = [status(direct, code, headers={"X-Forwarded-For": f"192.0.2.{i}"})[0] for i in range(3)]
    assert spoofed == [200, 200, 429]  # a client cannot pick a fresh address for itself

    proxied = make_service(repo, clock, rate="2/60", trusted=("10.0.0.0/8",))
    behind = lambda client: status(proxied, code, headers={"X-Forwarded-For": f"{client}, 10.0.0.3"},  # noqa: E731
                                   addr="10.0.0.2")[0]
    assert [behind("192.0.2.1") for _ in range(3)] == [200, 200, 429]
    assert behind("192.0.2.2") == 200  # two citizens behind the same proxy have their own budgets
