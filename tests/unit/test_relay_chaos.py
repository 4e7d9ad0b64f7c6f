"""The relay's fault point: the process dies after the broker confirmed a batch and before the outbox forgets it."""
import signal
import subprocess
import sys

import pytest

from onestop.messaging.chaos import Chaos
from onestop.messaging.outbox import Relay, with_outbox
from tests.unit.test_outbox_relay import an_event


class Died(BaseException):
    """What the fake kill raises: nothing after it in drain may run, as after a real SIGKILL."""


def test_the_relay_dies_with_the_batch_confirmed_and_still_in_the_outbox(mongo_db):
    db = mongo_db("relay")
    db.dossiers.insert_one(with_outbox({"_id": "VYDA-261201-0001", "center": "hue-vyda"},
                                       [an_event("VYDA-261201-0001", "hue-vyda")]))
    published, signals = [], []

    def kill(pid, sig):
        signals.append((pid, sig))
        raise Died()

    relay = Relay(db, ("dossiers",), lambda entries: published.extend(entries), chaos=Chaos("relay_confirmed=1",
                                                                                             kill=kill))
    with pytest.raises(Died):
        relay.drain()
    assert len(published) == 1 and relay.pending() == 1  # confirmed, and still there for the next start
    assert [sig for _pid, sig in signals] == [signal.SIGKILL]
    assert Relay(db, ("dossiers",), lambda entries: published.extend(entries)).drain() == 1  # published again
    assert [e["id"] for e in published[:1]] == [e["id"] for e in published[1:]]


def test_the_fault_point_is_a_real_sigkill_of_its_own_process():
    code = ("from onestop.messaging.chaos import Chaos\n"
            "Chaos('relay_confirmed=1').die('relay_confirmed')\n"
            "print('alive')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL and "alive" not in done.stdout


def test_off_by_default_and_never_at_rate_zero(mongo_db):
    db = mongo_db("relay")
    db.dossiers.insert_one(with_outbox({"_id": "VYDA-261201-0002", "center": "hue-vyda"},
                                       [an_event("VYDA-261201-0002", "hue-vyda")]))
    relay = Relay(db, ("dossiers",), lambda entries: None, chaos=Chaos("relay_confirmed=0", kill=pytest.fail))
    assert relay.drain() == 1 and relay.pending() == 0


@pytest.mark.parametrize("spec,message", [
    ("relay_confirmed=2", "relay_confirmed needs a rate between 0 and 1"),
    ("relay_confirmed=often", "relay_confirmed needs a rate between 0 and 1"),
    ("relay_published=0.1", "unknown point 'relay_published'; known: before, after, republish, requeue, "
                            "relay_confirmed"),
])
def test_a_bad_spec_is_refused_naming_the_point(spec, message):
    with pytest.raises(ValueError, match=message):
        Chaos(spec)
