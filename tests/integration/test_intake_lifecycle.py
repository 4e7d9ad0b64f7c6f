"""Intake follows a dossier's life over real RabbitMQ and answers the citizen over
real HTTP. The test plays routing (it publishes the lifecycle events, out of
order and twice) and notification (it reads the rating code from the private
contact event); the citizen looks the details up with the lookup code printed on
the receipt."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import EVENTS, PRIVATE
from services.intake.service import IntakeService
from tests.service.intake_events import COLLECT_AT, DOCUMENTS, Life
from tests.support.samples import dossier
from tests.support.staff import COUNTER
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration


def publish(amqp_uri, *events):
    publisher = ConfirmedPublisher(amqp_uri)
    for event in events:
        publisher.publish(event, exchange=EVENTS, routing_key=f"{event['type']}.{event['center']}")


def submit(intake, phone="0912340077"):
    """(the dossier code, the lookup code printed on its receipt)."""
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=dossier(phone=phone), headers=COUNTER, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["code"], response.json()["lookup_code"]


def lookup(intake, code, proof):
    return requests.get(f"{intake.http}/api/v1/dossiers/{code}", params={"lookup_code": proof}, timeout=5)


def reaches(intake, code, proof, wanted, timeout=15):
    """The details once the status is `wanted` (events take their time through the broker)."""
    return until(lambda: (r := lookup(intake, code, proof).json()).get("status") == wanted and r, timeout, 0.1,
                 f"{code} {wanted}")


def rate(intake, code, **body):
    return requests.post(f"{intake.http}/api/v1/dossiers/{code}/rating", json=body, timeout=10)


@pytest.fixture
def intake(services, config):
    container = services.start(IntakeService, STATUS_RATE_LIMIT="1000/60")  # declares the exchanges
    return container, Tap(config["AMQP_URI"], PRIVATE, "citizen.contact.v1.hue-vyda")


def rating_code_of(contact, code):
    codes = {}

    def arrived():
        for event in contact.messages():
            codes[event["data"]["code"]] = event["data"]["rating_code"]
        return codes.get(code)
    return until(arrived, 15, 0.1, f"the contact event of {code}")


def test_the_citizen_follows_a_supplement_loop_and_rates_the_result(intake, config):
    intake, contact = intake
    rated_tap = Tap(config["AMQP_URI"], EVENTS, "dossier.rated.v1.hue-vyda")
    code, proof = submit(intake)
    rating_code = rating_code_of(contact, code)
    events = Life(code).through_a_supplement().events
    amqp = config["AMQP_URI"]

    publish(amqp, events[0], events[1], events[2], events[3], events[1])  # assigned twice
    waiting = reaches(intake, code, proof, "supplement_requested")
    assert waiting["supplement"]["documents"] == DOCUMENTS and waiting["appointment_date"] is None
    assert rate(intake, code, rating_code=rating_code, score=5).status_code == 409  # not returned yet

    publish(amqp, events[5], events[4], events[4])  # work resumed before the papers were seen
    reaches(intake, code, proof, "in_progress")
    until(lambda: len(lookup(intake, code, proof).json()["steps"]) == 7, 10, 0.1, "the supplement's steps")
    resumed = lookup(intake, code, proof).json()
    assert resumed["appointment_date"] == "2026-02-24" and "supplement" not in resumed
    assert [s["step"] for s in resumed["steps"]][-3:] == ["request_supplement", "receive_supplement", "start"]

    publish(amqp, events[9], events[8], events[7], events[6], events[9])  # the end first, and twice
    reaches(intake, code, proof, "returned")
    until(lambda: len(lookup(intake, code, proof).json()["steps"]) == 11, 10, 0.1, "every step")
    done = lookup(intake, code, proof).json()
    assert done["appointment_date"] == "2026-02-27" and done["result"]["collect_at"] == COLLECT_AT
    assert done["result"]["decision"] == "approved" and done["rated"] is False
    public = requests.get(f"{intake.http}/api/v1/dossiers/{code}", timeout=5).json()
    assert public["status"] == "returned" and "steps" not in public and "result" not in public
    assert lookup(intake, code, "ABCDE-FGHJK").status_code == 403

    assert rate(intake, code, rating_code="ABCDEFGH", score=5).status_code == 403
    assert rate(intake, code, rating_code=rating_code, score=6).json()["fields"][0]["field"] == "score"
    rated = rate(intake, code, rating_code=rating_code.lower(), score=4, comment="Cán bộ nhiệt tình.")
    assert rated.status_code == 201 and rated.json()["rating"]["score"] == 4
    again = rate(intake, code, rating_code=rating_code, score=1)
    assert again.status_code == 409 and "once per dossier" in again.json()["message"]
    assert lookup(intake, code, proof).json()["rated"] is True

    [event] = until(rated_tap.messages, 15, 0.1, "dossier.rated.v1 on the public exchange")
    assert event["subject"] == code and event["data"]["score"] == 4
    assert event["data"]["has_comment"] is True and "Cán bộ" not in str(event)  # the words stay in intake


def test_concurrent_ratings_over_http_have_one_winner(intake, config):
    intake, contact = intake
    code, proof = submit(intake)
    rating_code = rating_code_of(contact, code)
    publish(config["AMQP_URI"], *Life(code).through_a_supplement().events)
    reaches(intake, code, proof, "returned")
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda score: rate(intake, code, rating_code=rating_code, score=score),
                                [1, 2, 3, 4, 5, 5]))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409, 409, 409]
    winner = next(a.json()["rating"] for a in answers if a.status_code == 201)
    assert lookup(intake, code, proof).json()["rated"] is True and 1 <= winner["score"] <= 5


def test_the_status_lookup_is_rate_limited_per_address(services):
    intake = services.start(IntakeService, STATUS_RATE_LIMIT="3/60")
    code, _ = submit(intake)
    answers = [requests.get(f"{intake.http}/api/v1/dossiers/{code}", timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["Retry-After"] == "20" and answers[-1].json()["error"] == "rate_limited"
    spoofed = requests.get(f"{intake.http}/api/v1/dossiers/{code}", headers={"X-Forwarded-For": "192.0.2.9"},
                           timeout=5)
    assert spoofed.status_code == 429  # 127.0.0.1 is not a trusted proxy
    assert rate(intake, code, rating_code="ABCDEFGH", score=5).status_code == 429
