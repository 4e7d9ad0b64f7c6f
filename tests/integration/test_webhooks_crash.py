"""The webhooks service killed with SIGKILL in the middle of a delivery loses nothing: started
again, it takes its subscription back at once and every event reaches the receiver, verified
with the subscriber's secret, the one in flight perhaps twice (at least once), in order."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

from onestop.config import Settings
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from tests.conftest import free_port
from tests.integration.test_webhooks import FAST, FLOW, INTEGRATOR, by_dossier, submit
from tests.support.receiver import Receiver
from tests.support.wait import until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class Webhooks:
    """The webhooks service as its own process (`nameko run`), on the test's vhost and store."""

    def __init__(self, config):
        self.port = free_port()
        # a lease of 150 s (WEBHOOK_TOTAL_TIMEOUT + 30): were it not taken back at once after the
        # restart, the 60 s the test waits would run out first
        self.env = {**os.environ, **{k: str(v) for k, v in config.items()}, **FAST, "WEBHOOK_TOTAL_TIMEOUT": "120",
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}", "PYTHONWARNINGS": "ignore"}
        self.url, self.process = f"http://127.0.0.1:{self.port}", None

    def start(self) -> "Webhooks":
        nameko = Path(sys.executable).parent / "nameko"
        self.process = subprocess.Popen([str(nameko), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                                         "services.webhooks.service"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        until(self._healthy, 60, 0.1, "webhooks healthy")
        return self

    def _healthy(self) -> bool:
        assert self.process.poll() is None, "webhooks exited"
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


@pytest.fixture
def webhooks(config):
    if Settings.load(config).embedded_store == "memory" and not Settings.load(config).mongo_uri:
        pytest.skip("the service runs in a process of its own: not the in-memory store")
    running = Webhooks(config).start()
    yield running
    running.kill()


def test_a_delivery_killed_mid_request_is_sent_again_after_the_restart(services, webhooks):
    intake = services.start(IntakeService)
    services.start(RoutingService)
    receiver = Receiver().start()
    try:
        receiver.behave("/slow", sleep=0.5)  # each request in flight half a second: the kill lands in one
        answer = requests.post(f"{webhooks.url}/api/v1/subscriptions", headers=INTEGRATOR, timeout=10,
                               json={"url": receiver.url("/slow"), "centers": ["hue-vyda"], "event_types": list(FLOW)})
        assert answer.status_code == 201, answer.text
        secret = answer.json()["secret"]
        codes = [submit(intake) for _ in range(3)]
        until(lambda: len(receiver.received("/slow")) >= 2, 30, 0.05, "two deliveries")
        webhooks.kill()  # SIGKILL, one request most likely in flight
        cut = len(receiver.received("/slow"))
        assert cut < 3 * len(FLOW), "everything was delivered before the kill: nothing tested"
        webhooks.start()
        hook = Webhook(secret)

        def complete():  # each verified with the secret, as the subscriber would
            events = [hook.verify(r["body"], r["headers"]) for r in receiver.received("/slow")]
            return events if len({(e["subject"], e["type"]) for e in events}) == 3 * len(FLOW) else None
        events = until(complete, 60, 0.1, "every event after the restart")
    finally:
        receiver.stop()
    ids = [e["id"] for e in events]
    assert len(set(ids)) == 3 * len(FLOW) and len(ids) - len(set(ids)) <= 1  # the one in flight, at most
    first = {}
    for event in events:
        first.setdefault(event["id"], event)
    assert by_dossier(first.values()) == {code: list(FLOW) for code in codes}  # in order, per dossier
