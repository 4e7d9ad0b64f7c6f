"""Who may do what on the broker: one RabbitMQ user per service, the operator, subscribers.

The one table of broker permissions (docs/security.md shows it). Each user gets
three regexes per vhost (configure, write, read) derived from the topology
(onestop.messaging.topology) and the user's role. What RabbitMQ checks, in short:
declaring or deleting a queue needs configure on it; binding a queue needs write
on the queue and read on the exchange; consuming or purging needs read on the
queue; publishing needs write on the exchange (the default exchange "" is
checked as ``amq.default``); declaring a queue with a dead-letter exchange needs
write on that exchange. A passive declare needs nothing.

The shared exchanges (onestop.events, onestop.private, ...) are made by the
broker's definitions (deploy/rabbitmq/definitions.json) or, under `make run` and
in tests, by an administrator; no service, subscriber or operator may configure
them, since configure on an exchange also lets one delete it. Services declare
them passively (topology.declare_exchanges) and declare only their own queues.

    >>> [s for s in SERVICES if re.fullmatch(service_user(s).permissions.read, "onestop.private")]
    ['notification']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from onestop.messaging.topology import DLX, EVENTS, LEGACY, MATCH, PRIVATE, REVOCATIONS_QUEUE, UNROUTED_QUEUE

DEFAULT_EXCHANGE = "amq.default"  # the default exchange "" as permission checks name it
# The exchanges subscribers may read: the events, the headers exchange to filter them, the deprecated form.
PUBLIC_EXCHANGES = (EVENTS.name, MATCH.name, LEGACY.name)
SUBSCRIBER_QUEUES = "sub.{name}."  # every queue of subscriber {name} starts so
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerUser:
    role: str  # "intake" ..., "operator", "admin", "sub-<name>"; the broker user is <prefix><role>
    permissions: Permissions
    tags: str = ""  # RabbitMQ user tags: "management" lets the ops CLI list queues over the HTTP API
    why: str = ""


@dataclass(frozen=True)
class ServiceAccess:
    """What a service does beyond consuming its own queues from onestop.events."""

    publishes_public: bool = True
    writes_private: bool = False
    reads_private: bool = False
    monitors: bool = False  # lists the vhost's queues and their depths (HTTP API): the "management" tag


# Every service consumes onestop.<service>.<center> (with its .dlq and .retry.<ms>) bound to
# onestop.events. tests/unit/test_broker_users.py checks this against the contracts' producers.
SERVICES = {
    "intake": ServiceAccess(writes_private=True),  # citizen.contact.v1 for notification
    "routing": ServiceAccess(),
    "notification": ServiceAccess(reads_private=True),  # the only reader of contact data
    "audit": ServiceAccess(),  # audit.checkpoint.v1
    "webhooks": ServiceAccess(),  # its delivery events
}
# Issue 17, alerts: ops.alert_* events; it also reads the queues' depths over the management API.
SERVICES["alerts"] = ServiceAccess(monitors=True)


def either(*patterns: str) -> str:
    """One anchored regex matching any of the (already escaped) patterns; nothing if none."""
    return f"^({'|'.join(patterns)})$" if patterns else "^$"


def _names(*names: str) -> list[str]:
    return [re.escape(name) for name in names]


def service_queues(service: str) -> str:
    """The service's work, dead-letter and delay queues, every center's."""
    return re.escape(f"onestop.{service}.") + r"[^.]+(\.dlq|\.retry\.[0-9]+)?"


def service_user(service: str) -> BrokerUser:
    """Configure and read its own queues; bind them to onestop.events (and, for notification,
    onestop.private); publish its events, its retries and dead letters (through the default
    exchange) and declare queues that dead-letter to onestop.dlx."""
    access = SERVICES[service]
    own = service_queues(service)
    published = [*PUBLIC_EXCHANGES] if access.publishes_public else []
    published += [PRIVATE.name] if access.writes_private else []
    # Read on onestop.dlx binds its dead-letter queues (routing key: the work queue's name).
    read = [EVENTS.name, DLX.name] + ([PRIVATE.name] if access.reads_private else [])
    read += [REVOCATIONS_QUEUE.name]  # issue 17, staff sign-in: every service reads the revocations stream
    return BrokerUser(service, Permissions(
        configure=either(own),
        write=either(own, *_names(*published, DEFAULT_EXCHANGE, DLX.name)),
        read=either(own, *_names(*read))), tags="management" if access.monitors else "", why=f"the {service} service")


def operator_user() -> BrokerUser:
    """`onestop dlq`: list (HTTP API), browse and purge dead-letter queues; replay a letter to its
    work queue (default exchange) and announce the replay as a public event."""
    dlqs = r"onestop\.[^.]+\.[^.]+\.dlq"
    return BrokerUser("operator", Permissions(
        configure="^$", write=either(*_names(DEFAULT_EXCHANGE, *PUBLIC_EXCHANGES)),
        read=either(dlqs, *_names(UNROUTED_QUEUE.name))),
        tags="management", why="operators' dead-letter tools (onestop dlq)")


def subscriber_user(name: str) -> BrokerUser:
    """Declare, bind and read queues named sub.<name>.* on the public exchanges only."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a subscriber's name is 1-40 lowercase letters, digits and '-'; got {name!r}")
    own = re.escape(SUBSCRIBER_QUEUES.format(name=name)) + ".+"
    return BrokerUser(f"sub-{name}", Permissions(
        configure=either(own), write=either(own), read=either(own, *_names(*PUBLIC_EXCHANGES))),
        why=f"subscriber {name}: its own queues on the public exchanges")


def admin_user() -> BrokerUser:
    """Makes the shared exchanges and users; the management UI. Never used by a service."""
    return BrokerUser("admin", Permissions(".*", ".*", ".*"), tags="administrator",
                      why="the broker's administrator (definitions, management UI)")


# --- issue 17, the console: it lists queues (HTTP API), browses and replays dead letters for the signed-in
# operator, through `onestop dlq`'s code; its own user, with exactly the operator's rights
def console_user() -> BrokerUser:
    """The console (services/console): what `onestop dlq` may, as a user of its own."""
    operator = operator_user()
    return BrokerUser("console", operator.permissions, tags=operator.tags,
                      why="the console: queues, dead letters and their replay, for the signed-in operator")


def platform_users(subscribers: tuple = ()) -> list[BrokerUser]:
    """Every user a deployment has: services, operator, admin, and the named subscribers."""
    return [*(service_user(s) for s in SERVICES), operator_user(), console_user(), admin_user(),
            *(subscriber_user(name) for name in subscribers)]

