"""`onestop demo` against running services: its counter, postal and online dossiers are
taken in with the right credentials (counter staff, a portal) and followed through audit."""
import os
import subprocess
import sys

import pytest

from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from tests.support.staff import CLI_ENV

pytestmark = pytest.mark.integration


def test_the_demo_takes_every_sample_in_and_sees_it_routed(services):
    intake, audit = services.start(IntakeService), services.start(AuditService)
    services.start(RoutingService)
    done = subprocess.run([sys.executable, "-m", "onestop.ops.cli", "--intake", intake.http, "--audit", audit.http,
                           "demo"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **CLI_ENV})
    assert done.returncode == 0, done.stderr
    assert "refused" not in done.stdout, done.stdout
    assert done.stdout.count("-> department") == 4, done.stdout  # the online one (a portal's) included
