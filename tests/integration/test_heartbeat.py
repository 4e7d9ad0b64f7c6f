"""An idle consumer keeps its broker connection with a short heartbeat.

kombu's consume loop, left to itself, lets an idle connection fall silent for
up to three seconds; with a 2 s heartbeat RabbitMQ closes it ("missed
heartbeats from client") and every unacked message is redelivered. The fault
suite's scenario 8 found it; this is the short form.
"""
import time
from urllib.parse import quote, urlparse

import requests

from services.routing.service import RoutingService
from tests.conftest import MGMT
from tests.support.wait import until


def client_connections(amqp_uri):
    vhost = quote(urlparse(amqp_uri).path[1:], safe="")
    rows = requests.get(f"{MGMT}/api/vhosts/{vhost}/connections", auth=("guest", "guest"), timeout=10).json()
    return {row["name"]: row.get("timeout") for row in rows}


def test_an_idle_consumer_with_a_two_second_heartbeat_keeps_its_connection(services, config):
    services.start(RoutingService, HEARTBEAT=2.0)
    until(lambda: 2 in client_connections(config["AMQP_URI"]).values(), 30, 0.2,
          "the consumer connected with a 2 s heartbeat")
    before = {name for name, timeout in client_connections(config["AMQP_URI"]).items() if timeout == 2}
    time.sleep(8)  # four heartbeat intervals with nothing to consume
    after = {name for name, timeout in client_connections(config["AMQP_URI"]).items() if timeout == 2}
    assert before and before <= after
