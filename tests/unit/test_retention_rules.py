"""The pure parts of the citizen's data retention: the settings, the timer that reads
its interval at start, and what an erasure leaves of a dossier."""
from datetime import datetime, timezone

import pytest

from onestop.config import Settings
from onestop.timers import SettingTimer
from services.intake.privacy import closed_at, erase_update, erased_fields

CITIZEN = {"full_name": "Trần Thị Mai", "id_number": "046187539260", "phone": "+84987654321", "email": None,
           "channels": ["sms"], "language": "vi"}


def test_the_retention_defaults_to_90_days_swept_hourly():
    settings = Settings.load({})
    assert (settings.personal_data_retention_days, settings.retention_sweep_interval) == (90.0, 3600.0)
    assert Settings.load({"PERSONAL_DATA_RETENTION_DAYS": "0.5"}).personal_data_retention_days == 0.5


@pytest.mark.parametrize("key, value", [
    ("PERSONAL_DATA_RETENTION_DAYS", "-1"), ("PERSONAL_DATA_RETENTION_DAYS", "ninety"),
    ("PERSONAL_DATA_RETENTION_DAYS", "nan"), ("PERSONAL_DATA_RETENTION_DAYS", "inf"),
    ("RETENTION_SWEEP_INTERVAL", "0"), ("RETENTION_SWEEP_INTERVAL", ""),
])
def test_a_bad_retention_setting_stops_the_service_naming_the_variable(key, value):
    with pytest.raises(ValueError, match=f"{key} must be a number of at least"):
        Settings.load({key: value})


class Container:
    def __init__(self, config):
        self.config = config


def test_the_timer_takes_its_interval_from_its_containers_settings_at_setup():
    container = Container({"RETENTION_SWEEP_INTERVAL": "2.5"})  # kept: nameko binds through a weak reference
    timer = SettingTimer("retention_sweep_interval").bind(container, "sweep")
    assert timer.interval is None  # nothing is read at import or declaration
    timer.setup()
    assert timer.interval == 2.5


def test_only_what_the_dossier_holds_is_named_erased():
    assert erased_fields({"citizen": CITIZEN, "documents": [{"code": "a"}], "rating": {"score": 5}}) == \
        ["full_name", "id_number", "phone"]
    noted = {"citizen": CITIZEN, "note": None, "documents": [{"code": "a", "note": "bản sao"}],
             "rating": {"score": 2, "comment": "Chậm"}}
    assert erased_fields(noted) == ["full_name", "id_number", "phone", "notes", "rating_comment"]


def test_the_erasure_keeps_the_dossier_the_initials_and_the_score():
    dossier = {"citizen": CITIZEN, "note": "gọi trước", "documents": [{"code": "a", "copies": 2, "note": "x"}],
               "rating": {"score": 2, "comment": "Chậm"}}
    update = erase_update(dossier, {"basis": "request"})
    assert update["$unset"] == {"citizen": "", "note": "", "request_hash": "", "retention_from": "",
                                "rating.comment": ""}
    assert update["$set"] == {"applicant": "T. T. M.", "documents": [{"code": "a", "copies": 2}],
                              "personal_data": {"basis": "request"}}
    assert "rating.comment" not in erase_update({**dossier, "rating": None}, {})["$unset"]


def test_a_dossier_closed_before_closed_at_was_kept_counts_from_its_return():
    at = datetime(2026, 2, 20, 8, 30, tzinfo=timezone.utc)
    assert closed_at({"closed_at": at}) == "2026-02-20T08:30:00.000Z"
    assert closed_at({"result": {"returned_at": "2026-02-20T08:30:00.000Z"}}) == "2026-02-20T08:30:00.000Z"
