"""Routing's use cases: open a case for each dossier, let staff act on it, fire its timers."""
from __future__ import annotations

import logging

from onestop.errors import PermanentError, UnknownDossier
from onestop.messaging.outbox import with_outbox
from services.routing import cases, queries

log = logging.getLogger(__name__)


def route_dossier(event: dict, *, catalog, repo, now, due_soon=cases.DEFAULT_DUE_SOON) -> dict | None:
    """dossier.received -> department by the center's rules -> least-loaded skilled officer.

    Writes the case and both events (routed, assigned) in one insert, and starts
    the deadline clock. Returns the case, or None if this dossier was routed before
    (a redelivery). A dossier.received of a code whose case is another dossier (the
    code issued twice) is UnknownDossier: dead-lettered, never a second case.
    """
    data = event["data"]
    known = repo.get(data["code"])
    if known is not None:
        _same_dossier(known, event)
        return None
    center = catalog.centers.get(event["center"])
    procedure = catalog.procedures.get(data["procedure_code"])
    if center is None or procedure is None:
        raise PermanentError(f"unknown center {event['center']} or procedure {data['procedure_code']}")
    loads = repo.open_loads([o.id for o in center.officers_for(procedure)])
    case, events = cases.open_case(event, center=center, procedure=procedure, loads=loads, now=now,
                                   due_soon=due_soon)
    if repo.insert(with_outbox(case, events, now)):
        return case
    _same_dossier(repo.get(data["code"]), event)  # another worker routed this code meanwhile: which dossier?
    return None


def _same_dossier(case: dict, event: dict) -> None:
    UnknownDossier.unless_same("routing", case["_id"], cases.dossier_id_of(case), event)


def act(code: str, action: str, principal, body: dict, *, catalog, repo, now, due_soon=cases.DEFAULT_DUE_SOON,
        correlation_id: str | None = None) -> dict:
    """One staff action on a case, written with its event; returns the case as the caller now sees it."""
    case = repo.get(code)
    if not cases.visible_to(case, principal):
        raise cases.NotFound(code)
    center, procedure = catalog.centers[case["center"]], catalog.procedures[case["procedure_code"]]
    change = cases.act(case, action, principal, body, center=center, procedure=procedure, now=now,
                       correlation_id=correlation_id, due_soon=due_soon)
    if not repo.apply(change, now):
        life = cases.life_of(repo.get(code))
        raise cases.ChangedMeanwhile(life.state, action, life.allowed_actions(),
                                     "the dossier changed while this action was being checked; reload it and retry")
    return cases.view(change.applied_to(case), principal)  # the write was conditional: this is what is stored


def fire_due_timers(*, catalog, repo, now, centers: list[str], due_soon=cases.DEFAULT_DUE_SOON) -> int:
    """Fire every due-soon / overdue point that has passed; each exactly once. Returns how many."""
    fired = 0
    for case in repo.timers_due(now, centers):
        center = catalog.centers.get(case["center"])
        if center is None:
            continue
        change = cases.fire_timers(case, center=center, now=now, due_soon=due_soon,
                                   field=catalog.field_of(case.get("procedure_code")))
        if change is not None and repo.apply(change, now):  # lost the race: another worker fired it
            fired += 1
    return fired


def record_rating(event: dict, repo) -> bool:
    """Keep the citizen's rating on the case (once), for the reports; True if it was new.

    Only on the case of the rated dossier: a dossier is rated after routing
    returned it, so a rating of a case routing does not have, or has as another
    dossier, means routing's store lost its past (UnknownDossier, dead-lettered).
    """
    data = event["data"]
    case = repo.get(data["code"])
    if case is None:
        raise UnknownDossier.missing("routing", event, "a dossier is rated only after routing returned it, so "
                                     "routing's store lost its case (deleted, or restored from an older backup)")
    _same_dossier(case, event)
    return repo.rate(data["code"], {"score": data["score"], "at": data["rated_at"],
                                    "comment": bool(data.get("has_comment"))}, event["id"])


def report(scope, *, catalog, repo, now, due_soon=cases.DEFAULT_DUE_SOON) -> dict:
    """The leaders' report (services.routing.queries.report): the period's dossiers, today's,
    and every case whose deadline runs now (for the overdue and due-soon lists)."""
    return queries.report(repo.for_report(scope.filters), scope, catalog, now,
                          today_docs=repo.for_report(scope.today_filters),
                          open_docs=repo.for_report(scope.open_filters, queries.LIST_PROJECTION),
                          due_soon=due_soon)
