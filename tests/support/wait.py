"""Poll with a deadline instead of sleeping."""
import time


def until(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Return the first truthy value of predicate(), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
