"""The webhooks service: delivers public events to other systems over signed HTTP (Standard Webhooks)."""
