"""One counter token floods intake; other callers are not held up. On real services
(nameko containers, RabbitMQ, HTTP, the SMS sink): the flooder gets 429 after its
limit, while another clerk's dossiers, in the same center and in another, are
accepted, routed, and their receipt SMS reaches the gateway within a bound."""
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.samples import dossier
from tests.support.staff import bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration

LIMIT, PERIOD = 20, 60
BOUND = 15.0  # seconds from the 201 to the SMS at the gateway, while the flood goes on


@pytest.fixture
def pipeline(services):
    return {"intake": services.start(IntakeService, COUNTER_SUBMIT_LIMIT=f"{LIMIT}/{PERIOD}"),
            "routing": services.start(RoutingService), "notification": services.start(NotificationService)}


def phone() -> str:
    return f"09{random.randint(10**7, 10**8 - 1)}"


def post(intake, headers, body):
    return requests.post(f"{intake.http}/api/v1/dossiers", json=body, headers=headers, timeout=30)


def journey(intake, sinks, headers, center: str) -> float:
    """Submit one dossier; seconds from the request until it is routed and its SMS is at the gateway."""
    local = phone()
    start = time.monotonic()
    response = post(intake, headers, dossier(center=center, phone=local, channels=["sms"]))
    assert response.status_code == 201, response.text
    code = response.json()["code"]
    until(lambda: requests.get(f"{intake.http}/api/v1/dossiers/{code}", timeout=5).json()["status"] == "assigned",
          BOUND, 0.05, f"{code} routed")
    (sms,) = until(lambda: sinks.sms(to="+84" + local[1:]), BOUND, 0.05, f"the SMS of {code}")
    assert code in sms["text"]
    return time.monotonic() - start


class Flood:
    """Threads that post dossiers with one token, as fast as answers come, until stopped."""

    def __init__(self, intake, headers, threads: int = 16):
        self.intake, self.headers, self.answers, self.running = intake, headers, [], True
        self.pool = ThreadPoolExecutor(threads)
        self.started = time.monotonic()
        self.workers = [self.pool.submit(self._run) for _ in range(threads)]

    def _run(self):
        while self.running:
            self.answers.append(post(self.intake, self.headers, dossier(phone=phone(), channels=["sms"])))

    def stop(self) -> float:
        self.running = False
        for worker in self.workers:
            worker.result()
        self.pool.shutdown()
        return time.monotonic() - self.started


def test_a_flooding_counter_token_gets_429_and_holds_up_no_other_caller(pipeline, sinks):
    intake = pipeline["intake"]
    flood = Flood(intake, bearer(user="counter-flood"))
    try:
        until(lambda: len(flood.answers) >= 2 * LIMIT, 20, 0.01, "the flood under way")
        clerk = bearer(user="counter-02")
        same_center = journey(intake, sinks, clerk, "hue-vyda")
        other_center = journey(intake, sinks, clerk, "hue-phuxuan")
    finally:
        flood_s = flood.stop()

    accepted = [a for a in flood.answers if a.status_code == 201]
    refused = [a for a in flood.answers if a.status_code == 429]
    assert len(accepted) + len(refused) == len(flood.answers)
    assert LIMIT <= len(accepted) <= LIMIT + flood_s * LIMIT / PERIOD + 1  # the bucket, and what refilled meanwhile
    assert all(int(a.headers["Retry-After"]) >= 1 and a.json()["error"] == "rate_limited" for a in refused)
    assert refused[0].json()["fields"] == [{"field": "caller",
                                            "reason": f"at most {LIMIT} dossiers every {PERIOD} seconds per counter_staff token"}]
    print(f"\nflood: {len(flood.answers)} requests in {flood_s:.2f}s, {len(accepted)} accepted, {len(refused)} "
          f"refused (429); meanwhile another clerk's dossier, from its request to its SMS at the gateway: "
          f"same center {same_center:.2f}s, other center {other_center:.2f}s")
