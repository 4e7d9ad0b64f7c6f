"""The procedure and center catalog, loaded from YAML (stdlib + PyYAML only).

>>> cat = load_catalog()
>>> birth = cat.procedure("1.001193")
>>> vyda = cat.center("hue-vyda")
>>> vyda.department_for(birth).id
'vp'
>>> [o.id for o in vyda.officers_for(birth)][:2]
['vyda-o01', 'vyda-o02']

A center may list its ``staff``: the center leader and exactly one head per
department, with their email addresses, whom the deadline escalations go to
(``Center.escalation_contacts``). They stay out of every public view.

The default file is ``onestop/data/catalog.yaml``; the ``CATALOG_PATH``
environment variable points elsewhere. Top-level keys starting with ``_``
only hold YAML anchors and are ignored.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULT_PATH = Path(__file__).with_name("data") / "catalog.yaml"


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so the public views are plain JSON shapes."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Public:
    def to_public(self) -> dict:
        """A JSON-ready dict for the HTTP API (GET /api/v1/procedures, /api/v1/centers)."""
        return _plain(asdict(self))


@dataclass(frozen=True)
class Document(_Public):
    code: str
    name_vi: str
    name_en: str
    required: bool = True


@dataclass(frozen=True)
class Procedure(_Public):
    code: str
    name_vi: str
    name_en: str
    field: str
    department: str
    working_days: int
    cutoff_applies: bool
    documents: tuple[Document, ...]
    fee_vnd: int | None
    fee_note: str
    sources: tuple[str, ...]
    assumptions: tuple[str, ...]
    code_unverified: bool = False
    assumption_note: str = ""

    def missing_documents(self, handed_in: Iterable[str]) -> list[Document]:
        """Required documents not handed in, in catalog order (for the 'ask once, completely' rule)."""
        given = set(handed_in or ())
        return [d for d in self.documents if d.required and d.code not in given]


@dataclass(frozen=True)
class Department(_Public):
    id: str
    name_vi: str
    name_en: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Officer(_Public):
    # Only these four fields exist, so the public view cannot leak contact data.
    id: str
    name: str
    department: str
    skills: tuple[str, ...]

    def can_handle(self, procedure: Procedure) -> bool:
        return procedure.field in self.skills or procedure.code in self.skills


STAFF_ROLES = ("center_leader", "department_head")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class StaffContact:
    """Who deadline escalations go to: the center leader and each department head.

    Not `_Public`: it carries an email address, and Center.to_public() leaves it out.
    """

    id: str
    name: str
    role: str  # one of STAFF_ROLES
    department: str | None  # None for the center leader
    email: str


@dataclass(frozen=True)
class Center(_Public):
    id: str
    short_code: str
    name_vi: str
    name_en: str
    unit_code: str
    timezone: str
    cutoff: str
    office_hours: tuple[tuple[str, str], ...]
    departments: tuple[Department, ...]
    officers: tuple[Officer, ...]
    routing: dict = field(hash=False)
    overrides: dict = field(hash=False)
    assumptions: tuple[str, ...] = ()
    staff: tuple[StaffContact, ...] = ()
    # Local calendar overrides (ISO dates): days off the national calendar does not know
    # (a provincial holiday, a storm closure) and make-up working days it does not list.
    days_off: tuple[str, ...] = ()
    extra_working_days: tuple[str, ...] = ()

    def to_public(self) -> dict:
        """As the other views, without the staff contacts (email addresses stay internal)."""
        public = super().to_public()
        public.pop("staff", None)
        return public

    def escalation_contacts(self, roles, department_id: str | None) -> list[StaffContact]:
        """The staff to tell, in `roles` order: the head of `department_id`, the leader."""
        out = []
        for role in roles:
            out += [s for s in self.staff if s.role == role
                    and (role != "department_head" or s.department == department_id) and s not in out]
        return out

    def department(self, dept_id: str) -> Department:
        for dept in self.departments:
            if dept.id == dept_id:
                return dept
        raise KeyError(f"center {self.id} has no department {dept_id!r}")

    def department_for(self, procedure: Procedure) -> Department:
        """Per-center override first, then the field routing, then the catalog default."""
        dept_id = self.overrides.get(procedure.code) or self.routing.get(procedure.field) or procedure.department
        return self.department(dept_id)

    def officers_for(self, procedure: Procedure) -> list[Officer]:
        dept_id = self.department_for(procedure).id
        return [o for o in self.officers if o.department == dept_id and o.can_handle(procedure)]


@dataclass(frozen=True)
class Catalog:
    procedures: dict = field(hash=False)  # code -> Procedure
    centers: dict = field(hash=False)  # id -> Center
    fields: dict = field(hash=False)  # id -> {"name_vi", "name_en"}

    def procedure(self, code: str) -> Procedure:
        try:
            return self.procedures[code]
        except KeyError:
            raise KeyError(f"unknown procedure code {code!r}") from None

    def field_of(self, procedure_code: str | None) -> str | None:
        """The field of a procedure (what a subscriber filters on), None if unknown."""
        procedure = self.procedures.get(procedure_code)
        return procedure.field if procedure is not None else None

    def center(self, center_id: str) -> Center:
        try:
            return self.centers[center_id]
        except KeyError:
            raise KeyError(f"unknown center {center_id!r}; known: {', '.join(self.centers)}") from None

    def with_cutoff(self, cutoff: str) -> "Catalog":
        """The same catalog with `cutoff` as every center's cut-off."""
        centers = {cid: replace(c, cutoff=cutoff) for cid, c in self.centers.items()}
        return Catalog(procedures=self.procedures, centers=centers, fields=self.fields)

    def to_public(self) -> dict:
        return {
            "fields": [{"id": k, **v} for k, v in self.fields.items()],
            "procedures": [p.to_public() for p in self.procedures.values()],
            "centers": [c.to_public() for c in self.centers.values()],
        }


# ---- loading and validation -------------------------------------------------

def _req(entry: dict, key: str, where: str) -> Any:
    if not isinstance(entry, dict) or key not in entry or entry[key] is None:
        raise ValueError(f"{where}: missing '{key}'")
    return entry[key]


def _known(value: Any, table: dict, what: str, where: str) -> Any:
    if value not in table:
        raise ValueError(f"{where}: unknown {what} {value!r}")
    return value


def _document(raw: dict, where: str) -> Document:
    return Document(str(_req(raw, "code", where)), _req(raw, "name_vi", where), _req(raw, "name_en", where),
                    bool(raw.get("required", True)))


def _procedure(raw: dict, fields: dict, departments: dict) -> Procedure:
    code = str(_req(raw, "code", "procedure"))
    where = f"procedure {code}"
    field_id = _known(_req(raw, "field", where), fields, "field", where)
    dept_id = _known(_req(raw, "department", where), departments, "department", where)
    days = _req(raw, "working_days", where)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"{where}: working_days must be a whole number >= 0, got {days!r}")
    docs = tuple(_document(d, f"{where} document") for d in _req(raw, "documents", where))
    if not docs:
        raise ValueError(f"{where}: lists no documents")
    fee = raw.get("fee_vnd")
    if fee is not None and (not isinstance(fee, int) or fee < 0):
        raise ValueError(f"{where}: fee_vnd must be a whole number of VND or null, got {fee!r}")
    return Procedure(
        code=code, name_vi=_req(raw, "name_vi", where), name_en=_req(raw, "name_en", where),
        field=field_id, department=dept_id, working_days=days,
        cutoff_applies=bool(raw.get("cutoff_applies", False)), documents=docs,
        fee_vnd=fee, fee_note=raw.get("fee_note") or "",
        sources=tuple(raw.get("sources") or ()), assumptions=tuple(raw.get("assumptions") or ()),
        code_unverified=bool(raw.get("code_unverified", False)), assumption_note=raw.get("assumption_note") or "",
    )


def _center(raw: dict, fields: dict, departments: dict, procedures: dict) -> Center:
    cid = str(_req(raw, "id", "center"))
    where = f"center {cid}"
    routing = dict(_req(raw, "routing", where))
    for field_id in fields:
        if routing.get(field_id) not in departments:
            raise ValueError(f"{where}: routing sends field {field_id!r} to unknown department {routing.get(field_id)!r}")
    overrides = {str(k): v for k, v in (raw.get("overrides") or {}).items()}
    for code, dept_id in overrides.items():
        _known(code, procedures, "procedure in overrides", where)
        _known(dept_id, departments, "department in overrides", where)
    cutoff, tz = str(raw.get("cutoff") or "15:00"), raw.get("timezone") or "Asia/Ho_Chi_Minh"
    _hhmm(cutoff, f"{where}: cutoff")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: unknown timezone {tz!r}") from None
    officers = tuple(_officer(o, where, departments, fields, procedures) for o in _req(raw, "officers", where))
    if len({o.id for o in officers}) != len(officers):
        raise ValueError(f"{where}: duplicate officer ids")
    staff = _staff(raw.get("staff"), where, departments, {o.id for o in officers})
    return Center(
        id=cid, short_code=str(_req(raw, "short_code", where)).upper(),
        name_vi=_req(raw, "name_vi", where), name_en=_req(raw, "name_en", where),
        unit_code=str(_req(raw, "unit_code", where)), timezone=tz, cutoff=cutoff,
        office_hours=tuple(tuple(p) for p in raw.get("office_hours") or ()),
        departments=tuple(departments.values()), officers=officers,
        routing=routing, overrides=overrides, assumptions=tuple(raw.get("assumptions") or ()),
        staff=staff, **_calendar_overrides(raw.get("calendar"), where),
    )


def _calendar_overrides(raw, where: str) -> dict:
    """``calendar: {days_off: [YYYY-MM-DD, ...], working_days: [...]}``, optional."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"days_off", "working_days"}:
        raise ValueError(f"{where}: calendar takes days_off and working_days (lists of YYYY-MM-DD)")
    out = {}
    for key, attr in (("days_off", "days_off"), ("working_days", "extra_working_days")):
        days = raw.get(key) or []
        try:
            out[attr] = tuple(date.fromisoformat(str(d)).isoformat() for d in days)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: calendar.{key} must list dates as YYYY-MM-DD") from None
    return out


def _staff(raw, where: str, departments: dict, officer_ids: set) -> tuple[StaffContact, ...]:
    """Optional; when given: one center leader and exactly one head per department."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: staff must be a list")
    staff = tuple(_staff_contact(s, where, departments) for s in raw)
    ids = [s.id for s in staff]
    if len(set(ids)) != len(ids) or set(ids) & officer_ids:
        raise ValueError(f"{where}: duplicate staff ids (among staff or with officers)")
    leaders = [s for s in staff if s.role == "center_leader"]
    if len(leaders) != 1:
        raise ValueError(f"{where}: staff must name exactly one center_leader, found {len(leaders)}")
    for dept_id in departments:
        heads = [s for s in staff if s.role == "department_head" and s.department == dept_id]
        if len(heads) != 1:
            raise ValueError(f"{where}: staff must name exactly one department_head of {dept_id}, found {len(heads)}")
    return staff


def _staff_contact(raw: dict, where: str, departments: dict) -> StaffContact:
    sid = str(_req(raw, "id", f"{where} staff"))
    where = f"{where} staff {sid}"
    role = _req(raw, "role", where)
    if role not in STAFF_ROLES:
        raise ValueError(f"{where}: role must be one of {', '.join(STAFF_ROLES)}, got {role!r}")
    dept = raw.get("department")
    if role == "department_head":
        _known(_req(raw, "department", where), departments, "department", where)
    elif dept is not None:
        raise ValueError(f"{where}: a center_leader belongs to no department, got {dept!r}")
    email = str(_req(raw, "email", where)).strip()
    if not _EMAIL.fullmatch(email):
        raise ValueError(f"{where}: email {email!r} is not an email address")
    return StaffContact(sid, _req(raw, "name", where), role, dept, email)


def _officer(raw: dict, where: str, departments: dict, fields: dict, procedures: dict) -> Officer:
    oid = str(_req(raw, "id", f"{where} officer"))
    where = f"{where} officer {oid}"
    dept_id = _known(_req(raw, "department", where), departments, "department", where)
    skills = tuple(str(s) for s in raw.get("skills") or ())
    unknown = [s for s in skills if s not in fields and s not in procedures]
    if unknown:
        raise ValueError(f"{where}: unknown skills {unknown}")
    return Officer(oid, _req(raw, "name", where), dept_id, skills)


def _unique(items: list, what: str) -> dict:
    out: dict = {}
    for item in items:
        key = item.id if hasattr(item, "id") else item.code
        if key in out:
            raise ValueError(f"duplicate {what} {key!r}")
        out[key] = item
    return out


def parse_catalog(data: dict) -> Catalog:
    """Build and validate a Catalog from already-parsed YAML."""
    if not isinstance(data, dict):
        raise ValueError("catalog: the file must hold a mapping")
    fields = dict(_req(data, "fields", "catalog"))
    departments = _unique([_department(d, fields) for d in _req(data, "departments", "catalog")], "department")
    procedures = _unique([_procedure(p, fields, departments) for p in _req(data, "procedures", "catalog")], "procedure")
    centers = _unique([_center(c, fields, departments, procedures) for c in _req(data, "centers", "catalog")], "center")
    if len({c.short_code for c in centers.values()}) != len(centers):
        raise ValueError("catalog: two centers share a short_code")
    return Catalog(procedures=procedures, centers=centers, fields=fields)


def _department(raw: dict, fields: dict) -> Department:
    did = str(_req(raw, "id", "department"))
    handled = tuple(_req(raw, "fields", f"department {did}"))
    unknown = [f for f in handled if f not in fields]
    if unknown:
        raise ValueError(f"department {did}: unknown fields {unknown}")
    return Department(did, _req(raw, "name_vi", f"department {did}"), _req(raw, "name_en", f"department {did}"), handled)


def _hhmm(text: str, what: str) -> None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"{what} must look like HH:MM, got {text!r}")


def _read(path: str, cutoff: str = "") -> Catalog:
    with open(path, encoding="utf-8") as fh:
        catalog = parse_catalog(yaml.safe_load(fh))
    return catalog.with_cutoff(cutoff) if cutoff else catalog


@lru_cache(maxsize=4)
def _cached(path: str, cutoff: str) -> Catalog:
    return _read(path, cutoff)


def load_catalog(path: str | None = None) -> Catalog:
    """An explicit path is read fresh; the default (CATALOG_PATH or the packaged file) is cached.

    ``CUTOFF_TIME`` (HH:MM), when set, is every center's cut-off instead of its own:
    applied here, where the catalog is read, so that every service counts with it."""
    cutoff = os.environ.get("CUTOFF_TIME", "").strip()
    if cutoff:
        _hhmm(cutoff, "CUTOFF_TIME")
    if path is not None:
        return _read(str(path), cutoff)
    return _cached(os.environ.get("CATALOG_PATH") or str(DEFAULT_PATH), cutoff)


def clear_cache() -> None:
    _cached.cache_clear()
