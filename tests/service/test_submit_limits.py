"""Intake's per-caller limit through nameko's worker_factory with a real store: over
its limit a caller gets 429 with Retry-After and a body that says why, nothing is
written, and other callers go on."""
import json

import orjson
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from onestop.config import Settings
from onestop.web.ratelimit import RateLimiter, parse_rate
from services.intake.service import IntakeService
from onestop.web.throttle import CallerThrottle
from tests.support.samples import dossier
from tests.support.staff import authenticator, bearer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def intake_with(repo, clock, counter_rate="3/60"):
    throttle = CallerThrottle(RateLimiter(*parse_rate("100/60"), clock=clock),
                              RateLimiter(*parse_rate(counter_rate), clock=clock))
    return worker_factory(IntakeService, store=repo, settings=Settings.load({}), staff=authenticator(),
                          submit_throttle=throttle)


def post(service, staff, body=None):
    request = EnvironBuilder(method="POST", path="/api/v1/dossiers", data=orjson.dumps(body or dossier()),
                             content_type="application/json", headers=staff).get_request()
    response = service.submit(request)
    return response.status_code, json.loads(response.get_data()), response.headers


def test_a_counter_token_over_its_limit_gets_429_and_nothing_is_written(intake_repo):
    clock = Clock()
    intake = intake_with(intake_repo, clock)
    flooder = bearer(user="counter-07")
    assert [post(intake, flooder)[0] for _ in range(3)] == [201, 201, 201]

    status, body, headers = post(intake, flooder)

    assert status == 429 and headers["Retry-After"] == "20"
    assert body == {"error": "rate_limited",
                    "message": "Too many dossiers from counter_staff counter-07; try again in 20 seconds.",
                    "fields": [{"field": "caller", "reason": "at most 3 dossiers every 60 seconds per counter_staff token"}]}
    assert intake_repo.dossiers.count_documents({}) == 3
    clock.now = 20.0
    assert post(intake, flooder)[0] == 201


def test_another_clerk_and_another_center_go_on_while_one_token_floods(intake_repo):
    intake = intake_with(intake_repo, Clock(), counter_rate="1/60")
    post(intake, bearer(user="counter-07"))
    assert post(intake, bearer(user="counter-07"))[0] == 429
    assert post(intake, bearer(user="counter-08"))[0] == 201
    assert post(intake, bearer(user="counter-09"), dossier(center="hue-phuxuan"))[0] == 201


def test_a_bad_token_is_401_before_any_count(intake_repo):
    intake = intake_with(intake_repo, Clock(), counter_rate="1/60")
    assert post(intake, {"Authorization": "Bearer nope"})[0] == 401
    assert post(intake, bearer(user="counter-07"))[0] == 201
