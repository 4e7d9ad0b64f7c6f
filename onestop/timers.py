"""nameko timers whose interval is a setting, read when the container starts (never at import).

    class IntakeService:
        @every("retention_sweep_interval")
        def erase_expired(self): ...

``every(name)`` fires every ``Settings.<name>`` seconds of the container's own
settings (its config first, then the environment), so two containers in one
process, or a test, can each have their own interval.
"""
from __future__ import annotations

from eventlet.queue import Empty, Full, LightQueue
from nameko.timer import Timer

from onestop.config import Settings


class SettingTimer(Timer):
    """nameko's Timer, its interval taken from the container's Settings at setup."""

    def __init__(self, setting: str, eager: bool = False, **kwargs):
        super().__init__(interval=None, eager=eager, **kwargs)
        self.setting = setting

    def setup(self):
        self.interval = getattr(Settings.load(self.container.config), self.setting)


every = SettingTimer.decorator


class Wakeup:
    """What a background loop waits on: at most `interval` seconds, or until someone calls
    `kick()` (the outbox relay after a worker wrote events, the webhook dispatcher after events
    were queued); kicks while the loop is busy count as one."""

    def __init__(self):
        self._kicks = LightQueue(maxsize=1)

    def kick(self) -> None:
        try:
            self._kicks.put_nowait(True)
        except Full:
            pass

    def wait(self, interval: float) -> None:
        try:
            self._kicks.get(timeout=interval)
        except Empty:
            pass
