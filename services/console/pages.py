"""The sign-in page, rendered on the server (it works without JavaScript): the development sign-in's
sample staff behind a loud warning, the OpenID Connect button, and what went wrong last time."""
from __future__ import annotations

from html import escape

ROLE_NAMES = {"counter_staff": "Cán bộ một cửa / Counter staff", "officer": "Chuyên viên / Officer",
              "department_head": "Trưởng phòng / Department head", "center_leader": "Lãnh đạo trung tâm / Center leader",
              "auditor": "Kiểm tra viên / Auditor", "operator": "Vận hành / Operator"}
ERRORS = {"oidc_not_configured": "Đăng nhập OIDC chưa được cấu hình (OIDC_ISSUER) / OIDC sign-in is not configured",
          "signin_failed": "Đăng nhập không thành công / Sign-in failed",
          "signed_out": "Đã đăng xuất / Signed out"}
BANNER = ('<div class="devbanner" role="alert"><strong>⚠ CHỈ DÙNG CHO PHÁT TRIỂN / FOR DEVELOPMENT ONLY</strong> '
          "— bất kỳ ai mở trang này cũng đăng nhập được với tư cách bất kỳ ai. Anyone who opens this page can sign "
          "in as anyone: never turn CONSOLE_DEV_SIGNIN on outside a developer's machine.</div>")


def _person(p: dict) -> str:
    label = f"{p['name']} — {ROLE_NAMES.get(p['role'], p['role'])}" + (
        f" ({p['department']})" if p.get("department") else "") + f" · {', '.join(p['centers'])}"
    return (f'<li><button type="submit" name="user" value="{escape(p["user"])}" '
            f'data-role="{escape(p["role"])}">{escape(label)}</button></li>')


def login_page(*, staff: list[dict] | None, form_token: str, oidc: bool, error: str = "") -> str:
    """The page; `staff` None when the development sign-in is off."""
    notice = f'<p class="notice" role="status">{escape(ERRORS.get(error, ""))}</p>' if error in ERRORS else ""
    dev = ""
    if staff is not None:
        dev = (BANNER + '<form method="post" action="/console/login/dev"><fieldset><legend>Đăng nhập phát triển / '
               f'Development sign-in</legend><input type="hidden" name="form_token" value="{escape(form_token)}">'
               f'<ul class="people">{"".join(_person(p) for p in staff)}</ul></fieldset></form>')
    provider = ('<p><a class="button" href="/console/login/oidc">Đăng nhập / Sign in (OpenID Connect)</a></p>'
                if oidc or staff is None else "")
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>OneStop — Đăng nhập / Sign in</title><link rel="stylesheet" href="/console/app.css"></head>
<body><main id="main" class="login"><h1>OneStop — Bảng điều khiển / Console</h1>{notice}{provider}{dev}</main></body></html>
"""
