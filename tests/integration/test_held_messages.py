"""More receipts to one phone than its limit, through the real pipeline (intake ->
routing -> notification over RabbitMQ, real HTTP, the real SMS sink): exactly the
limit reach the gateway (with two notification workers), the rest are held and
listed masked for operators, a release sends one exactly once, and another phone
is not affected."""
import random

import pytest
import requests

from onestop.masking import mask_address
from onestop.ops.cli import main as onestop
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.samples import dossier
from tests.support.staff import COUNTER, bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration

LIMIT = 3
OPERATOR = bearer("operator", "ops-lan", ["hue-vyda"])


@pytest.fixture
def pipeline(services):
    """Two notification workers share the store and the queues: the count must hold across them."""
    second = services.start(NotificationService, CITIZEN_MESSAGES_PER_HOUR=LIMIT)
    return {"intake": services.start(IntakeService), "routing": services.start(RoutingService),
            "notification": services.start(NotificationService, CITIZEN_MESSAGES_PER_HOUR=LIMIT),
            "second notification worker": second}


def a_phone() -> tuple[str, str]:
    """(as given at the counter, as the gateway sees it); the sink lives for the whole session."""
    local = f"09{random.randint(10**7, 10**8 - 1)}"
    return local, "+84" + local[1:]


def submit(intake, phone: str) -> str:
    body = dossier(phone=phone, channels=["sms"])
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=body, headers=COUNTER, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def held(notification, headers=OPERATOR) -> dict:
    response = requests.get(f"{notification.http}/api/v1/held", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_over_the_limit_receipts_are_held_listed_masked_and_released_once(pipeline, sinks):
    intake, notification = pipeline["intake"], pipeline["notification"]
    local, phone = a_phone()
    codes = [submit(intake, local) for _ in range(LIMIT + 2)]

    until(lambda: held(notification)["total"] == 2, 30, 0.2, "two receipts held")
    until(lambda: len(sinks.sms(to=phone)) >= LIMIT, 10, 0.1, "the SMS under the limit")
    assert len(sinks.sms(to=phone)) == LIMIT
    listing = held(notification)
    assert {item["code"] for item in listing["held"]} < set(codes)
    assert all(item["recipient"] == mask_address(phone) for item in listing["held"])
    assert local[1:] not in requests.get(f"{notification.http}/api/v1/held", headers=OPERATOR, timeout=5).text
    assert listing["held"][0]["reason"] == {"limit": "hour", "max": LIMIT, "window_seconds": 3600, "count": LIMIT}

    other_local, other_phone = a_phone()
    other = submit(intake, other_local)  # another phone: its own count
    (sms,) = until(lambda: sinks.sms(to=other_phone), 20, 0.1, "the other phone's SMS")
    assert other in sms["text"]

    first = listing["held"][0]
    release = f"{notification.http}/api/v1/held/{first['id']}/release"
    answer = requests.post(release, headers=OPERATOR, timeout=15)
    assert answer.status_code == 200 and answer.json()["status"] == "sent", answer.text
    again = requests.post(release, headers=OPERATOR, timeout=15)
    assert again.status_code == 409 and again.json()["error"] == "not_held"
    delivered = sinks.sms(to=phone)
    assert len(delivered) == LIMIT + 1 and sum(first["code"] in m["text"] for m in delivered) == 1
    assert [item["id"] for item in held(notification)["held"]] == [listing["held"][1]["id"]]


def one_held(intake, notification) -> tuple[dict, str]:
    """One more receipt to a phone than the limit: the held one, and the phone."""
    local, phone = a_phone()
    for _ in range(LIMIT + 1):
        submit(intake, local)
    (item,) = until(lambda: held(notification)["held"], 30, 0.2, "a receipt held")
    return item, phone


def test_held_messages_are_for_operators_of_their_center_only(pipeline):
    intake, notification = pipeline["intake"], pipeline["notification"]
    item, _ = one_held(intake, notification)
    release = f"{notification.http}/api/v1/held/{item['id']}/release"

    assert requests.get(f"{notification.http}/api/v1/held", timeout=5).status_code == 401
    assert requests.post(release, headers=COUNTER, timeout=5).status_code == 403
    elsewhere = bearer("operator", "ops-px", ["hue-phuxuan"])
    assert held(notification, elsewhere)["total"] == 0
    assert requests.post(release, headers=elsewhere, timeout=5).status_code == 404
    assert held(notification)["total"] == 1


def test_operators_list_and_release_from_the_command_line(pipeline, sinks, capsys):
    intake, notification = pipeline["intake"], pipeline["notification"]
    item, phone = one_held(intake, notification)
    token = ["--notification", notification.http, "--token", OPERATOR["Authorization"].split()[1]]

    assert onestop(["held", "list", "--center", "hue-vyda", *token]) == 0
    listed = capsys.readouterr().out
    assert item["id"] in listed and item["code"] in listed and mask_address(phone) in listed
    assert phone not in listed and "1 held message shown, 1 in all" in listed

    assert onestop(["held", "release", item["id"], *token]) == 0
    assert f"released  {item['id']}  {item['code']}  sms to {mask_address(phone)}: sent (by ops-lan)" \
        in capsys.readouterr().out
    assert sum(item["code"] in m["text"] for m in sinks.sms(to=phone)) == 1
    assert onestop(["held", "release", item["id"], *token]) == 1
    assert "409" in capsys.readouterr().err
