"""The token buckets behind the citizen endpoints' rate limit, on an injected clock."""
import pytest

from onestop.web.ratelimit import RateLimiter, TokenBucket, client_address, parse_rate, parse_trusted


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("text,expected", [("30/60", (30, 60.0)), (" 5 / 1.5 ", (5, 1.5)), ("1/1", (1, 1.0))])
def test_a_rate_is_requests_per_seconds(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "30", "30/", "/60", "0/60", "30/0", "-1/60", "30/60/2", "thirty/60", None])
def test_a_malformed_rate_says_what_is_expected(text):
    with pytest.raises(ValueError, match="30/60"):
        parse_rate(text)


def test_a_full_bucket_allows_a_burst_then_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(30, 60, clock=clock)
    assert all(limiter.take("a")[0] for _ in range(30))
    assert limiter.take("a") == (False, 2.0)  # one token every 2 s
    clock.now = 1.5
    assert limiter.take("a") == (False, pytest.approx(0.5))


def test_tokens_come_back_continuously_and_never_beyond_the_capacity():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    for _ in range(3):
        limiter.take("a")
    clock.now = 20.0  # one token back
    assert limiter.take("a") == (True, 0.0)
    assert limiter.take("a")[0] is False
    clock.now = 10_000.0  # a long quiet spell refills to 3, not more
    assert [limiter.take("a")[0] for _ in range(4)] == [True, True, True, False]


def test_a_denied_request_spends_nothing():
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    limiter.take("a")
    for _ in range(100):
        limiter.take("a")  # hammering while limited does not push the next token further away
    clock.now = 10.0
    assert limiter.take("a") == (True, 0.0)


def test_each_client_has_its_own_bucket():
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.take("198.51.100.1")[0] and limiter.take("198.51.100.2")[0]
    assert not limiter.take("198.51.100.1")[0]


def test_a_clock_going_backwards_grants_nothing():
    clock = Clock(100.0)
    bucket = TokenBucket(1, 10, clock.now)
    assert bucket.take(100.0) == 0.0
    assert bucket.take(50.0) > 0


def test_memory_stays_bounded_under_many_addresses():
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 100
    limiter.take("busy")
    limiter.take("busy")
    clock.now = 1.0
    for i in range(200):  # the busy client's empty bucket survives while full ones are forgotten
        limiter.take(f"10.9.{i // 256}.{i % 256}")
        limiter.take("busy")
    assert limiter.take("busy")[0] is False


TRUSTED = parse_trusted(["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"])


@pytest.mark.parametrize("peer,forwarded,client", [
    ("203.0.113.5", None, "203.0.113.5"),
    ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not from a trusted proxy: the header is ignored
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client wrote 6.6.6.6 itself
    ("10.0.0.2", "198.51.100.1, 192.0.2.10, 10.1.1.1", "198.51.100.1"),  # two trusted hops
    ("10.0.0.2", "10.3.3.3, 10.1.1.1", "10.3.3.3"),  # every hop trusted: the first one
    ("10.0.0.2", "not-an-ip", "10.0.0.2"),
    ("10.0.0.2", "", "10.0.0.2"),
    ("2001:db8::1", "2001:db9::7", "2001:db9::7"),
    (None, "198.51.100.1", "unknown"),
])
def test_the_client_address(peer, forwarded, client):
    assert client_address(peer, forwarded, TRUSTED) == client


def test_a_bad_trusted_proxy_setting_is_named():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_trusted(["10.0.0.0/8", "proxy.local"])


# --- per caller: the intake of dossiers ----------------------------------------------------

from werkzeug.test import EnvironBuilder  # noqa: E402

from onestop.config import Settings  # noqa: E402
from onestop.errors import TooManyRequests  # noqa: E402
from onestop.web.auth import Principal  # noqa: E402
from onestop.web import ratelimit  # noqa: E402
from onestop.web.ratelimit import caller_key  # noqa: E402
from onestop.web.throttle import CallerThrottle  # noqa: E402


def request_from(address: str = "198.51.100.7"):
    return EnvironBuilder(method="POST", path="/api/v1/dossiers", environ_base={"REMOTE_ADDR": address}).get_request()


def counter(user: str) -> Principal:
    return Principal(user, "counter_staff", frozenset({"hue-vyda"}))


def caller_throttle(clock, portal="5/60", counter_rate="2/60") -> CallerThrottle:
    return CallerThrottle(RateLimiter(*parse_rate(portal), clock=clock), RateLimiter(*parse_rate(counter_rate), clock=clock))


def test_a_caller_is_its_token_role_and_user_whatever_the_role():
    assert caller_key(counter("counter-01"), "10.0.0.1") == "counter_staff:counter-01"
    assert caller_key(Principal("dvc-hue", "portal", frozenset()), "10.0.0.1") == "portal:dvc-hue"
    assert caller_key(Principal("ops", "operator", frozenset()), "10.0.0.1") == "operator:ops"
    assert caller_key(None, "203.0.113.7") == "address:203.0.113.7"


def test_one_counter_token_over_its_limit_gets_429_with_when_and_why():
    clock = Clock()
    throttle = caller_throttle(clock)
    throttle(counter("counter-01"), request_from())
    throttle(counter("counter-01"), request_from())
    with pytest.raises(TooManyRequests) as refused:
        throttle(counter("counter-01"), request_from())
    assert refused.value.retry_after == 30  # 2 per 60 s: one back every 30 s
    assert refused.value.message == "Too many dossiers from counter_staff counter-01; try again in 30 seconds."
    assert refused.value.fields == [{"field": "caller",
                                     "reason": "at most 2 dossiers every 60 seconds per counter_staff token"}]


def test_another_caller_is_not_held_up_by_a_flooding_one_even_from_the_same_address():
    throttle = caller_throttle(Clock())
    for _ in range(50):
        try:
            throttle(counter("flooder"), request_from())
        except TooManyRequests:
            pass
    throttle(counter("counter-02"), request_from())  # the same counter PC, another clerk: not refused
    throttle(Principal("dvc-hue", "portal", frozenset()), request_from())


def test_portal_clients_have_their_own_higher_limit():
    throttle = caller_throttle(Clock())
    portal = Principal("dvc-hue", "portal", frozenset({"hue-vyda"}))
    for _ in range(5):
        throttle(portal, request_from())
    with pytest.raises(TooManyRequests, match="portal dvc-hue"):
        throttle(portal, request_from())


def test_a_caller_without_a_token_is_counted_by_address_under_the_portal_limit():
    throttle = caller_throttle(Clock())
    for _ in range(5):
        throttle(None, request_from("203.0.113.7"))
    with pytest.raises(TooManyRequests, match="this address") as refused:
        throttle(None, request_from("203.0.113.7"))
    assert refused.value.fields[0]["reason"].endswith("per address")
    throttle(None, request_from("203.0.113.8"))


def test_the_caller_limits_default_to_what_a_busy_counter_and_portal_live_with():
    settings = Settings.load({})
    assert parse_rate(settings.counter_submit_limit) == (60, 60.0)
    assert parse_rate(settings.portal_submit_limit) == (600, 60.0)


def test_the_examples_in_the_module_hold():
    import doctest
    assert doctest.testmod(ratelimit).failed == 0
