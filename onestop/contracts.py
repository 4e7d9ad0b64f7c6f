"""Imports every producer's event module so the registry is complete."""
from services.intake import events as _intake  # noqa: F401
from services.notification import events as _notification  # noqa: F401
from services.routing import events as _routing  # noqa: F401
from onestop import operations_events as _operations  # noqa: F401
