"""The seed catalog and its loader: content checks against DOMAIN.md, and validation."""
from __future__ import annotations

import copy
import json
import re
from collections import Counter

import pytest
import yaml

from onestop import catalog as catalog_mod
from onestop.catalog import DEFAULT_PATH, Document, load_catalog, parse_catalog

FIVE_FIELDS = {"land", "construction", "business", "justice", "culture"}
# Codes whose statutory time DOMAIN.md gives as `?` (or that are not in it at all).
TIME_UNKNOWN = {"1.013225", "LOCAL-BUILDING-PERMIT-EXTEND", "2.000720", "1.001776", "1.001731",
                "LOCAL-FESTIVAL-NOTICE", "LOCAL-KARAOKE-LICENSE"}
# DOMAIN.md marks these codes `m` (third-party lists).
MARKED_M = {"1.000894", "1.000656", "1.004845", "1.000881", "2.000815", "2.000884", "1.013225",
            "1.001612", "2.000575", "2.000720", "1.001731", "1.001776"}
# Codes added from third-party copies of the national portal (dichvucong.gov.vn), not DOMAIN.md.
FROM_PORTAL_COPIES = {"1.004884", "1.004746", "1.005461", "1.000689", "2.001019", "2.000913",
                      "1.013226", "1.013228", "1.013229", "1.001570", "1.001266", "1.013791", "2.000794"}
# Of those, the ones whose time is a placeholder or read from "N ngày" without "làm việc".
PORTAL_TIME_ASSUMED = {"1.004884", "1.004746", "1.005461", "1.000689", "2.001019", "2.000913",
                       "1.001570", "1.001266", "1.013791", "2.000794"}


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture
def raw():
    with open(DEFAULT_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_loads_enough_procedures_across_five_fields(cat):
    assert len(cat.procedures) >= 30
    assert FIVE_FIELDS <= {p.field for p in cat.procedures.values()}
    per_field = Counter(p.field for p in cat.procedures.values())
    assert all(per_field[f] >= 3 for f in FIVE_FIELDS), per_field


def test_every_procedure_has_sources_time_a_required_paper_and_a_competent_department(cat):
    departments = {d.id: d for d in next(iter(cat.centers.values())).departments}
    for p in cat.procedures.values():
        assert p.sources and all(isinstance(s, str) and s.strip() for s in p.sources), p.code
        assert isinstance(p.working_days, int) and p.working_days >= 0, p.code
        assert any(d.required for d in p.documents), p.code
        assert p.field in departments[p.department].fields, p.code


def test_default_load_is_cached(cat):
    assert load_catalog() is cat


def test_every_procedure_is_complete(cat):
    for p in cat.procedures.values():
        assert p.documents, p.code
        assert any(ord(ch) > 127 for ch in p.name_vi), f"{p.code}: name_vi lacks diacritics"
        assert p.name_en and p.sources, p.code
        assert isinstance(p.working_days, int) and p.working_days >= 0
        assert p.fee_vnd is None or isinstance(p.fee_vnd, int)
        assert set(p.assumptions) <= {"code", "working_days", "fee_vnd", "department", "documents"}
        if p.assumptions:
            assert p.assumption_note, p.code


def test_assumptions_marked_where_domain_had_question_marks(cat):
    for code in TIME_UNKNOWN:
        assert "working_days" in cat.procedure(code).assumptions, code
    local = [p for p in cat.procedures.values() if p.code.startswith("LOCAL-")]
    assert local and all("code" in p.assumptions for p in local)
    for code in MARKED_M:
        assert cat.procedure(code).code_unverified, code


def test_codes_from_portal_copies_are_flagged_and_sourced(cat):
    assert FROM_PORTAL_COPIES <= set(cat.procedures)
    for code in FROM_PORTAL_COPIES:
        p = cat.procedure(code)
        assert p.code_unverified and p.assumption_note, code
        assert any("third-party" in s for s in p.sources), code
    for code in PORTAL_TIME_ASSUMED:
        assert "working_days" in cat.procedure(code).assumptions, code
    # national codes are never made up: every code is LOCAL-... or looks like a portal code
    assert all(re.fullmatch(r"LOCAL-[A-Z-]+|\d\.\d{6}", c) for c in cat.procedures)


def test_known_statutory_times(cat):
    assert cat.procedure("1.001193").working_days == 0
    assert cat.procedure("1.001193").cutoff_applies
    assert cat.procedure("1.001193").fee_vnd == 0
    assert cat.procedure("1.012812").working_days == 30
    assert cat.procedure("1.013978").working_days == 20  # upper bound of 17–20
    assert cat.procedure("1.004873").working_days == 3
    assert not cat.procedure("1.012812").cutoff_applies
    # from the portal pages (detached-house figures for the building permits)
    assert cat.procedure("1.013226").working_days == 7
    assert cat.procedure("1.013228").working_days == 5
    assert cat.procedure("1.013229").working_days == 7
    assert cat.procedure("1.004884").working_days == 5


def test_departments_follow_decree_150(cat):
    expected = {"justice": "vp", "land": "ktht", "construction": "ktht", "business": "ktht",
                "culture": "vhxh", "social": "vhxh"}
    for p in cat.procedures.values():
        assert p.department == expected[p.field], p.code


def test_four_centers_with_three_departments(cat):
    assert {c.id: c.short_code for c in cat.centers.values()} == {
        "hue-huongthuy": "HTHU", "hue-vyda": "VYDA", "hue-thuanhoa": "THHO", "hue-phuxuan": "PXUA"}
    for c in cat.centers.values():
        assert {d.id for d in c.departments} == {"vp", "ktht", "vhxh"}
        assert c.unit_code.startswith("00.00.H57") and "unit_code" in c.assumptions
        assert c.timezone == "Asia/Ho_Chi_Minh" and c.cutoff == "15:00"
        assert 5 <= len(c.officers) <= 7


def test_every_field_and_procedure_has_an_officer_in_every_center(cat):
    for c in cat.centers.values():
        for dept in c.departments:
            for field_id in dept.fields:
                assert any(o.department == dept.id and field_id in o.skills for o in c.officers), (c.id, field_id)
        for p in cat.procedures.values():
            assert c.officers_for(p), (c.id, p.code)


def test_some_officers_share_a_skill(cat):
    birth = cat.procedure("1.001193")
    assert all(len(c.officers_for(birth)) >= 2 for c in cat.centers.values())


def test_override_routes_one_procedure_elsewhere(cat):
    mediation = cat.procedure("1.012812")
    assert cat.center("hue-vyda").department_for(mediation).id == "ktht"
    phuxuan = cat.center("hue-phuxuan")
    assert phuxuan.department_for(mediation).id == "vp"
    assert [o.id for o in phuxuan.officers_for(mediation)] == ["phuxuan-o01"]


def test_officer_skill_by_procedure_code(cat):
    vyda = cat.center("hue-vyda")
    copy_cert, birth = cat.procedure("2.000815"), cat.procedure("1.001193")
    assert "vyda-o03" in [o.id for o in vyda.officers_for(copy_cert)]
    assert "vyda-o03" not in [o.id for o in vyda.officers_for(birth)]


def test_missing_documents_in_catalog_order(cat):
    birth = cat.procedure("1.001193")
    assert [d.code for d in birth.missing_documents([])] == ["birth_declaration", "birth_certificate_hospital", "id_card"]
    missing = birth.missing_documents(["id_card"])
    assert [d.code for d in missing] == ["birth_declaration", "birth_certificate_hospital"]
    assert all(isinstance(d, Document) and d.required for d in missing)
    assert birth.missing_documents(iter(["birth_declaration", "birth_certificate_hospital", "id_card"])) == []


def test_lookups_raise_clear_key_errors(cat):
    with pytest.raises(KeyError, match="9.999999"):
        cat.procedure("9.999999")
    with pytest.raises(KeyError, match="hue-nowhere"):
        cat.center("hue-nowhere")


def test_public_views_have_no_contact_data(cat):
    public = cat.center("hue-vyda").to_public()
    assert all(set(o) == {"id", "name", "department", "skills"} for o in public["officers"])
    proc = cat.procedure("1.001193").to_public()
    assert proc["documents"][0]["code"] == "birth_declaration" and proc["fee_vnd"] == 0
    assert cat.center("hue-vyda").unit_code == "00.00.H57.VYDA"


def test_every_center_has_a_leader_and_one_head_per_department_to_escalate_to(cat):
    for c in cat.centers.values():
        leaders = [s for s in c.staff if s.role == "center_leader"]
        assert len(leaders) == 1 and leaders[0].department is None, c.id
        for dept in c.departments:
            heads = [s for s in c.staff if s.role == "department_head" and s.department == dept.id]
            assert len(heads) == 1, (c.id, dept.id)
            assert c.escalation_contacts(["department_head", "center_leader"], dept.id) == heads + leaders
        assert len({s.id for s in c.staff} | {o.id for o in c.officers}) == len(c.staff) + len(c.officers)


def test_staff_are_sample_people_on_the_reserved_domain(cat):
    staff = [s for c in cat.centers.values() for s in c.staff]
    assert staff and all(s.email.endswith("@example.vn") for s in staff)
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    staff_lines = [line for line in text.splitlines() if line.strip().startswith("staff:")]
    assert len(staff_lines) == len(cat.centers)
    assert all("SAMPLE DATA" in line for line in staff_lines)


def test_staff_emails_never_reach_the_public_views(cat):
    for c in cat.centers.values():
        public = c.to_public()
        assert "staff" not in public and "@" not in json.dumps(public, ensure_ascii=False), c.id
    assert "@" not in json.dumps(cat.to_public(), ensure_ascii=False)


def _write(tmp_path, data) -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("breakage, named", [
    (lambda d: d["procedures"][0].update(field="astrology"), "procedure 1.001193"),
    (lambda d: d["procedures"][1].update(department="nowhere"), "procedure 1.000894"),
    (lambda d: d["procedures"][2].update(working_days="soon"), "procedure 1.000656"),
    (lambda d: d["procedures"][3].update(documents=[]), "procedure LOCAL-GUARDIANSHIP"),
    # routing is a shared YAML anchor: replace it on one center only.
    (lambda d: d["centers"][1].update(routing={"justice": "vp"}), "center hue-vyda"),
    (lambda d: d["centers"][2]["officers"][0].update(department="police"), "thuanhoa-o01"),
    (lambda d: d["centers"][3]["overrides"].update({"1.012812": "nowhere"}), "center hue-phuxuan"),
    (lambda d: d["procedures"].append(copy.deepcopy(d["procedures"][0])), "1.001193"),
    (lambda d: d["centers"][1]["staff"].pop(0), "center hue-vyda: staff must name exactly one center_leader"),
    (lambda d: d["centers"][1]["staff"].pop(1), "center hue-vyda: staff must name exactly one department_head of vp"),
    (lambda d: d["centers"][1]["staff"][2].update(department="vp"), "department_head of"),
    (lambda d: d["centers"][1]["staff"][1].update(department="police"), "vyda-head-vp: unknown department"),
    (lambda d: d["centers"][1]["staff"][1].update(role="mayor"), "vyda-head-vp: role must be one of"),
    (lambda d: d["centers"][1]["staff"][0].update(department="vp"), "vyda-leader: a center_leader belongs to no"),
    (lambda d: d["centers"][1]["staff"][0].update(email="leader at example.vn"), "vyda-leader: email"),
    (lambda d: d["centers"][1]["staff"][0].pop("email"), "vyda-leader: missing 'email'"),
    (lambda d: d["centers"][1]["staff"][0].update(id="vyda-o01"), "center hue-vyda: duplicate staff ids"),
    (lambda d: d["centers"][1].update(calendar={"days_off": ["2026-13-01"]}), "center hue-vyda: calendar.days_off"),
    (lambda d: d["centers"][1].update(calendar={"holidays": []}), "center hue-vyda: calendar takes"),
])
def test_bad_catalog_raises_value_error_naming_the_entry(tmp_path, raw, breakage, named):
    breakage(raw)
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        load_catalog(_write(tmp_path, raw))


def test_catalog_path_env_var(tmp_path, raw, monkeypatch):
    raw["centers"] = raw["centers"][:1]
    monkeypatch.setenv("CATALOG_PATH", _write(tmp_path, raw))
    catalog_mod.clear_cache()
    try:
        assert list(load_catalog().centers) == ["hue-huongthuy"]
    finally:
        monkeypatch.delenv("CATALOG_PATH")
        catalog_mod.clear_cache()


def test_parse_rejects_non_mapping():
    with pytest.raises(ValueError):
        parse_catalog(["not", "a", "catalog"])


def test_a_centers_calendar_overrides_reach_its_deadlines(tmp_path, raw):
    """A provincial day off and a make-up Saturday, set in the catalog, move the appointment date."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from onestop.worktime.centers import calendar_for, hours_for
    raw["centers"][1]["calendar"] = {"days_off": ["2026-12-03"], "working_days": ["2026-12-05"]}
    vyda = load_catalog(_write(tmp_path, raw)).centers["hue-vyda"]
    cal = calendar_for(vyda)
    assert not cal.is_working_day(date(2026, 12, 3)) and cal.is_working_day(date(2026, 12, 5))
    # Wed 2/12 10:00 with 2 working days: Thu 3 is off, Fri 4 is day 1, the make-up Sat 5 is day 2
    received = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert hours_for(vyda).due_time(received, 2).date() == date(2026, 12, 5)
    assert hours_for(load_catalog().centers["hue-vyda"]).due_time(received, 2).date() == date(2026, 12, 4)


def test_cutoff_time_is_every_centers_cutoff_for_every_service(monkeypatch):
    # applied where the catalog is read, so intake's receipt and routing's clock count with the same cut-off
    monkeypatch.setenv("CUTOFF_TIME", "16:00")
    try:
        assert {c.cutoff for c in load_catalog().centers.values()} == {"16:00"}
        monkeypatch.setenv("CUTOFF_TIME", "4pm")
        with pytest.raises(ValueError, match="CUTOFF_TIME must look like HH:MM, got '4pm'"):
            load_catalog()
    finally:
        monkeypatch.delenv("CUTOFF_TIME")
    assert {c.cutoff for c in load_catalog().centers.values()} == {"15:00"}
