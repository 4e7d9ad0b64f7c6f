"""The national service index's indicators (Decision 766/QĐ-TTg, 2022) that the platform's data can
compute, with their formulas: routing's report gives them (``indicators``); for a report from before
it did, the on-time rate is computed here from its totals and the other two are left unknown.

    >>> [(i["id"], i["value"]) for i in indicators_of({"totals": {"result_ready": 4, "on_time": 3}})]
    [('on_time_rate', 0.75), ('satisfaction_rate', None), ('online_rate', None)]
"""
from __future__ import annotations

FORMULAS = {
    "on_time_rate": ("Tỷ lệ hồ sơ giải quyết đúng hạn = số hồ sơ giải quyết đúng hạn / tổng số hồ sơ đã giải "
                     "quyết × 100%",
                     "On-time processing rate = dossiers resolved on time / dossiers resolved × 100%"),
    "satisfaction_rate": ("Tỷ lệ hài lòng = số đánh giá hài lòng và rất hài lòng (mức 4, 5) / tổng số đánh giá "
                          "× 100%",
                          "Satisfaction rate = ratings 'satisfied' or 'very satisfied' (levels 4, 5) / all ratings "
                          "× 100%"),
    "online_rate": ("Tỷ lệ hồ sơ trực tuyến = số hồ sơ nộp trực tuyến / tổng số hồ sơ tiếp nhận × 100%",
                    "Online-submission rate = dossiers submitted online / dossiers received × 100%"),
}


def _indicator(key: str, numerator, denominator) -> dict:
    known = numerator is not None and denominator is not None
    vi, en = FORMULAS[key]
    return {"id": key, "value": round(numerator / denominator, 4) if known and denominator else None,
            "numerator": numerator, "denominator": denominator, "formula_vi": vi, "formula_en": en}


def indicators_of(report: dict) -> list[dict]:
    """The report's own indicators if it has them, else what its totals allow."""
    if report.get("indicators"):
        return report["indicators"]
    totals = report.get("totals") or {}
    return [_indicator("on_time_rate", totals.get("on_time"), totals.get("result_ready")),
            _indicator("satisfaction_rate", None, None), _indicator("online_rate", None, None)]
