"""OneStop's event contract: the envelope, and each producer's event types.

Other systems depend on it, so it is a package of its own, owned by the
producers (one module each) and read by the consumers and by the
documentation generator (``onestop.dev.docsgen``) through one explicit
registry. It imports no service and no runtime code.

    >>> REGISTRY["dossier.received.v1"].producer
    'intake'
"""
from contracts import alerts, audit, intake, notification, operations, routing, webhooks
from contracts.dossier import dossier_id, same_dossier
from contracts.envelope import (CONTENT_TYPE, PRIVATE, PUBLIC, EventType, Registry, actor_of, filter_headers,
                               current_form, legacy_form, parse_envelope, routing_key)

REGISTRY = Registry([*intake.EVENTS, *routing.EVENTS, *notification.EVENTS, *operations.EVENTS, *audit.EVENTS,
                     *webhooks.EVENTS, *alerts.EVENTS])
make_event = REGISTRY.make_event
parse_event = REGISTRY.parse_event

__all__ = ["REGISTRY", "PUBLIC", "PRIVATE", "EventType", "Registry", "make_event", "parse_event",
           "parse_envelope", "routing_key", "dossier_id", "same_dossier", "CONTENT_TYPE", "actor_of",
           "filter_headers", "legacy_form", "current_form"]
