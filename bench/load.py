"""An open-loop load generator: dossiers over HTTP at a fixed rate, across centers.

Open loop means the schedule does not wait for the platform: dossier i is due
at start + i / rate whatever happened to dossier i - 1, so a slow platform
shows up as latency and backlog, not as a politely lower offered rate. A few
threads share the schedule, each with one keep-alive connection.
"""
from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from dataclasses import dataclass

from onestop.dev.samples import dossier

PROCEDURE = "1.001193"  # birth registration (justice, civil status): the commonest counter dossier


@dataclass
class Accepted:
    code: str
    phone: str  # as the SMS gateway sees it (+84...)
    at: float   # wall clock of the 201


class Load:
    _serials = itertools.count(10)  # a phone prefix per load: no two loads in a run share a number

    def __init__(self, host: str, port: int, token: str, centers: tuple, threads: int = 8):
        self.host, self.port, self.token, self.centers, self.threads = host, port, token, centers, threads
        self.serial = next(Load._serials) % 100
        self.accepted: list[Accepted] = []
        self.refused = 0
        self.behind_s = 0.0  # how late the generator itself fell behind its schedule, at worst
        self._lock = threading.Lock()

    def run(self, rate: float, seconds: float) -> "Load":
        n = max(1, int(rate * seconds))
        indexes = iter(range(n))
        lock = threading.Lock()
        begin = time.monotonic()

        def worker():
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            while True:
                with lock:
                    i = next(indexes, None)
                if i is None:
                    break
                delay = begin + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif -delay > self.behind_s:
                    self.behind_s = -delay
                conn = self._submit(conn, i)
            conn.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self

    def _submit(self, conn, i: int):
        center = self.centers[i % len(self.centers)]
        phone = f"09{self.serial:02d}{i:06d}"
        body = json.dumps(dossier(center, PROCEDURE, phone=phone, email=f"bench-{self.serial}-{i}@bench.example.vn")).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
                   "Idempotency-Key": f"bench-{self.serial}-{i}"}
        for _attempt in range(100):
            try:
                conn.request("POST", "/api/v1/dossiers", body, headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status == 201:
                    with self._lock:
                        self.accepted.append(Accepted(json.loads(answer)["code"], "+84" + phone[1:], time.time()))
                    return conn
                with self._lock:
                    self.refused += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            time.sleep(0.2)
        raise RuntimeError(f"dossier {i} was never accepted")
