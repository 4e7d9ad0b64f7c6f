"""Which vhosts `python -m onestop.dev.rabbit_admin clean` may delete: leftover test vhosts
only, never one in use, never make run's, never anyone else's."""
import pytest

from onestop.dev.rabbit_admin import DEV_VHOST, leftovers, make_vhost

HOST = "dev-box"
ALIVE = {4242}


def plan(vhosts, connections=None, prefix=""):
    delete, keep = leftovers(vhosts, connections or {}, ALIVE.__contains__, HOST, prefix)
    return [name for name, _ in delete], [name for name, _ in keep]


def test_only_test_vhosts_are_considered():
    vhosts = [{"name": n} for n in ("/", DEV_VHOST, "payments", "onestop-prod", "my-onestop-it-1", "onestop-it",
                                     "onestop-it-1", "onestop-test-2", "onestop-e2e-3", "onestop-bench-4",
                                     "onestop-fault-5")]
    assert plan(vhosts) == (["onestop-it-1", "onestop-test-2", "onestop-e2e-3", "onestop-bench-4",
                             "onestop-fault-5"], [])


def test_a_vhost_a_client_is_connected_to_is_kept():
    delete, keep = leftovers([{"name": "onestop-it-1"}, {"name": "onestop-it-2"}], {"onestop-it-1": 3},
                             ALIVE.__contains__, HOST)
    assert [n for n, _ in delete] == ["onestop-it-2"] and keep == [("onestop-it-1", "in use: 3 client connection(s)")]


@pytest.mark.parametrize("description, kept", [
    (f"made by pid 4242 on {HOST}", True),        # its maker still runs here
    (f"made by pid 999 on {HOST}", False),        # its maker is gone
    ("made by pid 4242 on another-box", False),   # a pid of another host says nothing here
    ("", False), ("made by someone", False),      # no label (made before labels, or by hand)
])
def test_a_vhost_whose_maker_still_runs_is_kept(description, kept):
    delete, keep = plan([{"name": "onestop-test-1", "description": description}])
    assert (keep, delete) == ((["onestop-test-1"], []) if kept else ([], ["onestop-test-1"]))


def test_a_prefix_narrows_the_choice():
    vhosts = [{"name": "onestop-it-aa1"}, {"name": "onestop-it-ab2"}, {"name": "onestop-test-aa3"}]
    assert plan(vhosts, prefix="onestop-it-a") == (["onestop-it-aa1", "onestop-it-ab2"], [])
    assert plan(vhosts, prefix="onestop-it-aa") == (["onestop-it-aa1"], [])


def test_a_throw_away_vhost_has_a_test_prefix():
    with pytest.raises(ValueError, match="onestop-it, onestop-test"):
        make_vhost("onestop-dev")
