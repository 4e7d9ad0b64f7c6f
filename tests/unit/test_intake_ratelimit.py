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
