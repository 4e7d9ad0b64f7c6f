"""The launcher's restart rule on a clock the test turns: a pause that doubles, resets, and a give-up."""
import json
import subprocess
import sys

from onestop.dev.supervisor import GAVE_UP, RESTARTING, RUNNING, Child, Policy, Supervisor, write_atomically


def crash_and_restart(child: Child, now: float, up_for: float = 0.0) -> float:
    """The child crashes `up_for` seconds after `now`; returns the pause it is given."""
    child.exited(-9, now + up_for)
    pause = child.restart_at - (now + up_for) if child.state == RESTARTING else None
    if pause is not None:
        child.started(child.restarts + 1000, child.restart_at)
    return pause


def test_each_quick_crash_doubles_the_pause_up_to_the_cap():
    child = Child("routing", 8002, Policy(give_up_crashes=100))
    child.started(100, 0.0)
    pauses, now = [], 0.0
    for _ in range(7):
        pauses.append(crash_and_restart(child, now, up_for=0.5))
        now = child.started_at
    assert pauses == [1, 2, 4, 8, 16, 30, 30]
    assert child.restarts == 7 and child.state == RUNNING


def test_a_child_that_stayed_up_starts_again_from_the_first_pause():
    child = Child("routing", 8002)
    child.started(100, 0.0)
    assert crash_and_restart(child, 0.0, up_for=1) == 1
    assert crash_and_restart(child, child.started_at, up_for=1) == 2
    assert crash_and_restart(child, child.started_at, up_for=61) == 1  # up more than STABLE_AFTER_S


def test_five_crashes_within_two_minutes_and_it_is_left_stopped():
    child = Child("audit", 8004)
    child.started(100, 0.0)
    for _ in range(4):
        assert crash_and_restart(child, child.started_at, up_for=1) is not None
    child.exited(1, child.started_at + 1)
    assert child.state == GAVE_UP and child.restart_at is None and not child.due(10_000)
    assert "GAVE UP on audit: it crashed 5 times within 120 s (last exit code 1)" in child.gave_up_message()
    assert "onestop restart audit" in child.gave_up_message()


def test_crashes_spread_over_more_than_the_window_never_give_up():
    child = Child("audit", 8004)
    child.started(100, 0.0)
    for _ in range(20):
        assert crash_and_restart(child, child.started_at, up_for=59) is not None  # ~60 s apart: 2 in any 120 s
    assert child.restarts == 20


def test_a_restart_is_due_only_when_its_pause_is_over():
    child = Child("intake", 8001)
    child.started(100, 10.0)
    child.exited(-9, 11.0)
    assert child.state == RESTARTING and not child.due(11.9) and child.due(12.0)
    assert child.as_dict() | {"restart_at": None} == {
        "name": "intake", "pid": None, "port": 8001, "state": "restarting", "restarts": 0,
        "started_at": 10.0, "exit_code": -9, "restart_at": None}


def test_by_hand_a_child_that_gave_up_gets_a_fresh_start():
    child = Child("audit", 8004, Policy(give_up_crashes=2))
    child.started(100, 0.0)
    child.exited(1, 1.0)
    child.started(101, 2.0)
    child.exited(1, 3.0)
    assert child.state == GAVE_UP
    child.by_hand()
    child.started(102, 4.0)
    child.exited(1, 5.0)
    assert child.state == RESTARTING and child.backoff() == 2  # one crash counted since, the first pause over


def test_the_state_file_is_replaced_whole(tmp_path):
    path = tmp_path / "var" / "launcher.json"
    write_atomically(path, {"processes": [1]})
    write_atomically(path, {"processes": [2]})
    assert json.loads(path.read_text()) == {"processes": [2]}
    assert [p.name for p in path.parent.iterdir()] == ["launcher.json"]


class CrashingPlatform:
    """A platform of one real process that exits with 3 at once (what Supervisor needs of a Platform)."""

    def __init__(self, log_dir):
        self.log_dir, self.procs = log_dir, {}
        self.spawn("crasher")

    def commands(self):
        return {"crasher": ([sys.executable, "-c", "import sys; sys.exit(3)"], {}, 1)}

    def spawn(self, name):
        self.procs[name] = subprocess.Popen(self.commands()[name][0])
        return self.procs[name]


def test_the_supervisor_restarts_a_real_process_then_gives_up_and_says_so(tmp_path, capsys):
    platform = CrashingPlatform(tmp_path)
    supervisor = Supervisor(platform, tmp_path / "launcher.json", clock=lambda: 0.0)
    for seen_dead in (0.0, 30.0, 60.0, 90.0, 110.0):  # 5 crashes within 120 s
        platform.procs["crasher"].wait()
        supervisor.step(seen_dead)
        supervisor.step(seen_dead + 9)  # past the pause (at most 8 s by the 4th): started again, until it gave up
    state = json.loads((tmp_path / "launcher.json").read_text())["processes"][0]
    assert state | {"started_at": 0} == {"name": "crasher", "pid": None, "port": 1, "state": "gave-up",
                                         "restarts": 4, "started_at": 0, "exit_code": 3, "restart_at": None}
    said = capsys.readouterr().err
    assert said.count("WARNING: crasher exited with 3; restarting it in") == 4
    assert "CRITICAL: GAVE UP on crasher: it crashed 5 times within 120 s" in said
    logged = [json.loads(line) for line in (tmp_path / "crasher.log").read_text().splitlines()]
    assert logged[-1]["level"] == "CRITICAL" and logged[-1]["service"] == "crasher"
    supervisor.control.shutdown()
