"""The browser half of tests/integration/test_console_browser.py, in a process of its own: Playwright's
sync API and eventlet's monkey-patching (which the test process has, for nameko) do not mix, so the test
runs this with a plain interpreter, hands it the platform's addresses as JSON on stdin, and asserts on
what it saw (JSON on stdout).

    python -m tests.support.console_browser leader|operator|signout < platform.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from onestop.messaging.publisher import ConfirmedPublisher

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
WAIT_MS = 20_000


def sign_in(browser, console: str, user: str, **context):
    """A fresh context signed in through the development sign-in page: (context, page, urls, banner)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{console}/console/")
    page.wait_for_url("**/console/login")  # no session: the page went to sign in
    banner = page.inner_text(".devbanner")
    page.click(f'button[name="user"][value="{user}"]')
    page.wait_for_url("**/console/")
    return ctx, page, urls, banner


def secrecy(ctx, page, urls) -> dict:
    """Where the session could leak to the page: its script's cookies, its storage, the URLs it asked for."""
    [cookie] = [c for c in ctx.cookies() if c["name"] == "onestop_session"]
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    return {"script_cookies": page.evaluate("document.cookie"), "cookie": {k: cookie[k] for k in
                                                                             ("httpOnly", "sameSite", "path")},
            "storage": stored, "session_in_storage": cookie["value"] in stored,
            "urls_with_a_secret": [u for u in urls if "eyJ" in u or "token=" in u or cookie["value"] in u]}


def figure(page, name: str) -> str:
    return page.inner_text(f'[data-figure="{name}"] strong', timeout=WAIT_MS).strip()


def leader(browser, p: dict) -> dict:
    ctx, page, urls, banner = sign_in(browser, p["console"], "vyda-leader")
    seen = {"banner": banner, "before": figure(page, "today-received")}
    page.evaluate("window.notReloaded = true")
    answer = requests.post(f"{p['intake']}/api/v1/dossiers", json=p["dossier"], headers=p["counter"], timeout=10)
    seen["submitted"] = answer.status_code
    want = str(int(seen["before"]) + 1)
    deadline = time.monotonic() + WAIT_MS / 1000  # polled from here: the page's CSP refuses eval'd predicates
    while figure(page, "today-received") != want and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    seen |= {"after": figure(page, "today-received"), "not_reloaded": page.evaluate("window.notReloaded === true"),
             "month_after": figure(page, "month-received"), "text_vi": page.inner_text("#leader"),
             "charts": page.locator("#leader svg.chart").count()}
    shots = Path(p["shots"])
    page.screenshot(path=str(shots / "console-leader-vi.png"), full_page=True)
    page.click("#lang")
    page.locator("html[lang=en]").wait_for(state="attached")
    seen |= {"heading_en": page.inner_text("#leader-h"), "text_en": page.inner_text("#leader")}
    page.screenshot(path=str(shots / "console-leader-en.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / "console-leader-en-phone.png"), full_page=True)
    seen |= {"phone_scroll_width": page.evaluate("document.documentElement.scrollWidth"), **secrecy(ctx, page, urls)}
    return seen


def operator(browser, p: dict) -> dict:
    ctx, page, urls, _banner = sign_in(browser, p["console"], "ops-01", viewport=PHONE)
    page.wait_for_selector("#ops:not([hidden])")
    letter = p["letter"]
    ConfirmedPublisher(p["amqp"]).publish(letter["event"], exchange="", routing_key=letter["queue"],
                                          message_id=letter["event"]["id"], headers=letter["headers"])
    button = page.locator(f'button[data-letter="{letter["event"]["id"]}"]')
    button.wait_for(timeout=WAIT_MS)
    seen = {"dead_letters_text": page.inner_text('[data-part="deadletters"]')}
    page.locator('[data-part="alerts"]', has_text=p["alert"]).wait_for(timeout=WAIT_MS)  # raised by the alerts service
    seen["alerts_text"] = page.inner_text('[data-part="alerts"]')
    page.screenshot(path=str(Path(p["shots"]) / "console-ops-vi-phone.png"), full_page=True)
    page.focus("body")
    tabs = 0
    while tabs < 40 and page.evaluate("document.activeElement.dataset.letter") != letter["event"]["id"]:
        page.keyboard.press("Tab")
        tabs += 1
    seen["tabs_to_replay"] = tabs if tabs < 40 else None
    page.keyboard.press("Enter")
    try:
        button.wait_for(state="detached", timeout=WAIT_MS)
        seen["replay_button_gone"] = True
    except Exception:
        seen["replay_button_gone"] = False
    seen["live_region"] = page.inner_text("#live")
    page.click("#lang")
    page.locator("html[lang=en]").wait_for(state="attached")
    seen |= {"heading_en": page.inner_text("#ops-h"), "text_en": page.inner_text("#ops")}
    page.screenshot(path=str(Path(p["shots"]) / "console-ops-en-phone.png"), full_page=True)
    return seen | secrecy(ctx, page, urls)


def signout(browser, p: dict) -> dict:
    """The session cookie as a forger would hold it (no CSRF token, another origin), then signed out."""
    console = p["console"]
    ctx, page, _urls, _banner = sign_in(browser, console, "ops-01")
    [cookie] = [c for c in ctx.cookies() if c["name"] == "onestop_session"]
    jar = {"onestop_session": cookie["value"]}
    body = {"queue": "routing/hue-vyda", "ids": ["x"]}
    replay = f"{console}/console/api/deadletters/replay"
    bare = requests.post(replay, json=body, cookies=jar, timeout=10)
    csrf = requests.get(f"{console}/console/api/me", cookies=jar, timeout=10).json()["csrf"]
    elsewhere = requests.post(replay, json=body, cookies=jar, timeout=10,
                              headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    with page.expect_response("**/console/logout") as answer:
        page.click("#logout")
    logout = answer.value.status
    if logout == 200:
        page.wait_for_url("**/console/login?error=signed_out")
    after = requests.get(f"{console}/console/api/me", cookies=jar, timeout=10)
    return {"without_csrf": [bare.status_code, bare.json()], "other_origin": [elsewhere.status_code, elsewhere.json()],
            "logout": logout, "after_signout": after.status_code,
            "cookie_left": [c["name"] for c in ctx.cookies() if c["name"] == "onestop_session"]}


def main() -> int:
    scenario, platform = sys.argv[1], json.load(sys.stdin)
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            seen = {"leader": leader, "operator": operator, "signout": signout}[scenario](browser, platform)
        finally:
            browser.close()
    print(json.dumps({**seen, "seconds": round(time.monotonic() - started, 1)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
