"""Static checks of docker-compose.yml and deploy/Dockerfile.

No Docker engine runs here, so these catch what would otherwise surface only
on an operator's `docker compose up`: an invalid file, an unpinned image, a
service that starts before its broker, a command naming a module that does
not exist.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from onestop.messaging.users import platform_users
from onestop.ops.brokerusers import DEPLOYED, VHOST, password_variable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
APP_SERVICES = ("intake", "routing", "notification", "audit", "webhooks")
MODULE = re.compile(r"(?:services|onestop)(?:\.\w+)+")

if str(ROOT) not in sys.path:  # `services` and `onestop` are top-level packages
    sys.path.insert(0, str(ROOT))


def _load() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


SERVICES: dict = _load()["services"]


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else list(command)


def _env(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def _runs(service: dict, module: str) -> bool:
    return module in _command(service)


def _commanded_modules() -> list[tuple[str, str]]:
    return [(name, token) for name, svc in SERVICES.items()
            for token in _command(svc) if MODULE.fullmatch(token)]


def test_compose_file_matches_the_compose_specification():
    tool = Path(sys.executable).with_name("check-jsonschema")
    assert tool.exists(), f"{tool} missing: pip install -r requirements-dev.txt"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name):
    check = SERVICES[name].get("healthcheck") or {}
    assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name):
    image = SERVICES[name].get("image", "")
    repository, _, tag = image.rpartition(":")
    pinned = "@sha256:" in image or ("/" not in tag and tag not in ("", "latest"))
    assert repository and pinned, f"{name}: image {image!r} is not pinned to a tag"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_services_restart_unless_stopped(name):
    assert SERVICES[name].get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "depends_on" in s))
def test_dependencies_wait_until_healthy(name):
    depends = SERVICES[name]["depends_on"]
    assert isinstance(depends, dict), f"{name}: short depends_on only waits for start"
    for target, spec in depends.items():
        assert target in SERVICES, f"{name} depends on unknown {target}"
        assert (spec or {}).get("condition") == "service_healthy", f"{name} -> {target}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_broker_and_database(name):
    assert {"rabbitmq", "mongo"} <= set(SERVICES[name].get("depends_on", {}))


def test_notification_waits_for_its_providers():
    assert {"mailpit", "sms-sink"} <= set(SERVICES["notification"]["depends_on"])


def test_the_four_services_share_one_image():
    images = {SERVICES[name].get("image") for name in APP_SERVICES}
    builds = {yaml.safe_dump(SERVICES[name].get("build")) for name in APP_SERVICES}
    assert len(images) == 1 and None not in images, images
    assert len(builds) == 1, builds
    assert SERVICES["intake"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert SERVICES["sms-sink"]["image"] in images


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_runs_its_own_module(name):
    assert _runs(SERVICES[name], f"services.{name}.service")


@pytest.mark.parametrize("name,module", _commanded_modules())
def test_commanded_modules_exist(name, module):
    # find_spec imports the parent packages, so a missing `services/x/service.py`
    # (or a broken package __init__) fails here instead of in a container.
    assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "--config" in _command(s)))
def test_nameko_config_file_exists(name):
    command = _command(SERVICES[name])
    config = command[command.index("--config") + 1]
    assert (ROOT / config).is_file(), f"{name}: {config} does not exist"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "WEB_SERVER_ADDRESS" in _env(s)))
def test_healthcheck_probes_the_service_port(name):
    port = _env(SERVICES[name])["WEB_SERVER_ADDRESS"].rpartition(":")[2]
    probe = " ".join(SERVICES[name]["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/healthz" in probe


@pytest.mark.parametrize("name", APP_SERVICES)
def test_services_share_the_environment(name):
    env = _env(SERVICES[name])
    assert env["MONGO_URI"] == "mongodb://mongo:27017/"
    assert (env["SMTP_HOST"], env["SMTP_PORT"]) == ("mailpit", "1025")
    assert env["SMS_URL"] == "http://sms-sink:8026/api/v1/sms"
    assert env["CENTERS"] == "all"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "AMQP_URI" in _env(s)))
def test_each_service_connects_as_its_own_broker_user(name):
    """The user of the service's module (routing-vyda is routing), its password from .env, the
    vhost of the definitions; never guest (RabbitMQ makes no guest when definitions are loaded)."""
    role = next(module.split(".")[1] for module in _command(SERVICES[name]) if MODULE.fullmatch(module))
    variable = password_variable(role)
    assert _env(SERVICES[name])["AMQP_URI"] == (f"amqp://{role}:${{{variable}:?missing, run .venv/bin/python "
                                                f"-m onestop.ops.brokerusers deploy (docs/security.md)}}"
                                                f"@rabbitmq:5672/{VHOST}")
    assert role in {u.role for u in platform_users()}


def test_every_nameko_service_has_a_broker_user():
    """The shared environment has no AMQP_URI: a service left without its own would fall back
    to the development default and never reach the broker."""
    nameko = [name for name, svc in SERVICES.items() if "nameko" in _command(svc)]
    assert set(APP_SERVICES) <= set(nameko)
    assert [name for name in nameko if "AMQP_URI" not in _env(SERVICES[name])] == []
    assert "AMQP_URI" not in str(_load().get("x-onestop-env"))


def test_the_broker_loads_the_users_and_permissions_at_boot():
    mounts = dict(m.rsplit(":", 2)[:2] for m in SERVICES["rabbitmq"]["volumes"] if m.startswith("./"))
    conf = mounts["./deploy/rabbitmq/rabbitmq.conf"]
    assert conf.startswith("/etc/rabbitmq/conf.d/") and conf.endswith(".conf")
    loads = re.search(r"^load_definitions\s*=\s*(\S+)$", (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text(), re.M)
    assert loads and mounts[f"./{DEPLOYED.relative_to(ROOT)}"] == loads.group(1)
    assert "/var/" in f"/{DEPLOYED.relative_to(ROOT)}" and (ROOT / ".gitignore").read_text().count("/var/")


def test_public_ports_are_intake_routing_staff_api_and_audit():
    assert "8001:8001" in SERVICES["intake"]["ports"]
    assert "8002:8002" in SERVICES["routing"]["ports"]  # the staff work API
    assert "8004:8004" in SERVICES["audit"]["ports"]
    assert not SERVICES["notification"].get("ports")
    assert not SERVICES["routing-vyda"].get("ports")  # a second worker: one published port per API


def test_staff_tokens_are_verified_against_the_providers_jwks_not_a_shared_secret():
    for name in ("intake", "routing", "routing-vyda", "notification", "audit", "webhooks", "console", "alerts"):
        env = _env(SERVICES[name])
        assert "JWT_SECRET" not in env, name
        assert env["AUTH_JWKS_URL"] == "http://keycloak:8080/realms/onestop/protocol/openid-connect/certs", name
        assert env["AUTH_ISSUER"].endswith("}/realms/onestop") and env["AUTH_AUDIENCE"] == "onestop-staff", name
        assert env["AUTH_USER_CLAIM"] == "preferred_username" and env["AUTH_ROLE_CLAIM"] == "onestop_role", name
        assert (env["AUTH_CENTERS_CLAIM"], env["AUTH_DEPARTMENT_CLAIM"]) == ("onestop_centers", "onestop_department")


def test_citizens_links_are_required_never_the_development_default():
    """A link to 127.0.0.1 in a citizen's SMS leads nowhere: compose asks for the real ones."""
    for name in ("intake", "notification"):
        env = _env(SERVICES[name])
        for key in ("PUBLIC_STATUS_URL", "RATING_URL"):
            assert env[key].startswith("${" + key + ":?"), (name, key)


def test_a_routing_worker_serves_a_single_center():
    dedicated = [svc for svc in SERVICES.values()
                 if _runs(svc, "services.routing.service")
                 and re.fullmatch(r"[a-z0-9-]+", _env(svc).get("CENTERS", "all"))
                 and _env(svc)["CENTERS"] != "all"]
    assert dedicated, "no routing worker is dedicated to one center"


def test_rabbitmq_is_3_13_with_management():
    assert re.fullmatch(r"rabbitmq:3\.13(\.\d+)*-management(-alpine)?", SERVICES["rabbitmq"]["image"])


def test_mongo_is_7():
    assert re.fullmatch(r"mongo:7(\.\d+)*(-\w+)?", SERVICES["mongo"]["image"])


def test_broker_and_database_keep_data_in_named_volumes():
    volumes = _load().get("volumes") or {}
    for name, path in (("rabbitmq", "/var/lib/rabbitmq"), ("mongo", "/data/db")):
        mounts = [m.split(":") for m in SERVICES[name]["volumes"]]
        assert any(src in volumes and dst == path for src, dst, *_ in mounts), name


def test_dockerfile_is_pinned_and_runs_unprivileged():
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:\w+)?", base), base
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "pip install -r requirements.txt" in text
    assert "pip install --no-deps ." in text


def test_the_image_holds_every_package_the_project_installs():
    # a package left out of the image imports fine here and fails only in the container
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    packages = [p for p in ("contracts", "onestop", "services") if (ROOT / p / "__init__.py").is_file()]
    missing = [p for p in packages if f"COPY {p} ./{p}" not in dockerfile]
    assert not missing, f"deploy/Dockerfile does not copy {missing}"


# -- Metrics (issue 17): Prometheus, its rules, Grafana and its dashboard ----------------------------------

PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
# The runbook sections of docs/operations.md the rules point at (written with the alerts' part of issue 17).
RUNBOOKS = ("alert-dead-letter", "alert-breaker-open", "alert-queue-growing", "alert-outbox-stale",
            "alert-dossier-overdue", "alert-webhook-paused")
# Series the rules and panels may read that OneStop does not define: RabbitMQ's prometheus plugin.
FOREIGN = {"rabbitmq_queue_messages_ready", "rabbitmq_queue_messages"}
PROMQL_WORDS = {"by", "without", "and", "or", "unless", "on", "ignoring", "bool"}


def _mounts(name: str) -> dict:
    """source -> target of a service's bind mounts (./...)."""
    return {m.split(":")[0]: m.split(":")[1] for m in SERVICES[name]["volumes"] if m.startswith("./")}


def _series(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: its names that call nothing, once label matchers,
    strings, ranges and grouping clauses are taken out."""
    bare = re.sub(r"\{[^}]*\}|\"[^\"]*\"|\[[^\]]*\]", " ", expr)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    return {n for n in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", bare) if n not in PROMQL_WORDS}


def _defined(name: str) -> bool:
    from onestop import metrics
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    return name in FOREIGN or name in metrics.FAMILIES or base in metrics.FAMILIES


def _rules() -> list[dict]:
    return [r for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def _panel_exprs() -> list[str]:
    import json
    dashboard = json.loads((GRAFANA / "dashboards" / "onestop.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_prometheus_and_grafana_are_in_compose_with_their_files():
    prom, graf = _mounts("prometheus"), _mounts("grafana")
    assert prom == {"./deploy/prometheus/prometheus.yml": "/etc/prometheus/prometheus.yml",
                    "./deploy/prometheus/alerts.yml": "/etc/prometheus/alerts.yml"}
    for source, target in {**prom, **graf}.items():
        assert (ROOT / source).exists(), source
    assert graf["./deploy/grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert graf["./deploy/grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/onestop.yml").read_text())["providers"][0]
    assert graf["./deploy/grafana/dashboards"] == provider["options"]["path"]
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090" and "127.0.0.1:9090:9090" in SERVICES["prometheus"]["ports"]
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_prometheus_scrapes_every_service_and_the_broker():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    for name, svc in SERVICES.items():  # every OneStop process with a web port
        address = _env(svc).get("WEB_SERVER_ADDRESS")
        if address and "nameko" in _command(svc):
            assert f"{name}:{address.rpartition(':')[2]}" in targets, name
    assert {"alerts:8007", "console:8000", "rabbitmq:15692"} <= targets
    onestop = next(job for job in config["scrape_configs"] if job["job_name"] == "onestop")
    assert onestop["metrics_path"] == "/metrics"
    assert re.search(r"^prometheus\.return_per_object_metrics\s*=\s*true$",
                     (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text(), re.M), "queues need a series each"


def test_each_alerting_rule_says_what_happened_and_where_the_runbook_is():
    rules = _rules()
    assert {r["alert"] for r in rules} >= {"OneStopDeadLetter", "OneStopBreakerOpen", "OneStopQueueGrowing",
                                           "OneStopOutboxStale", "OneStopDossierOverdue", "OneStopWebhookPaused"}
    for rule in rules:
        notes = rule["annotations"]
        assert notes.get("summary"), rule["alert"]
        assert re.fullmatch(r"docs/operations\.md#([a-z-]+)", notes.get("runbook", "")), rule["alert"]
        assert notes["runbook"].partition("#")[2] in RUNBOOKS, rule["alert"]
    assert {r["annotations"]["runbook"].partition("#")[2] for r in rules} == set(RUNBOOKS)  # each runbook is used


def test_rules_and_panels_read_only_metrics_that_exist():
    used = {name for expr in [r["expr"] for r in _rules()] + _panel_exprs() for name in _series(expr)}
    assert used and [n for n in sorted(used) if not _defined(n)] == []


def test_the_dashboard_has_a_panel_for_every_metric_family():
    from onestop import metrics
    shown = {re.sub(r"_(bucket|count|sum)$", "", n) for expr in _panel_exprs() for n in _series(expr)}
    assert [f for f in metrics.FAMILIES if f not in shown] == []


def test_the_rules_fire_and_resolve_as_their_tests_say():
    """deploy/prometheus/alerts_test.yml with Prometheus' own promtool (Debian's `prometheus` package, or
    PROMTOOL=/path): the breaker that flaps half-open still alerts, the outbox alerts past 60 s, and so on."""
    import os
    import shutil
    tool = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not tool:
        pytest.skip("promtool is not installed (apt-get install prometheus, or PROMTOOL=/path/to/promtool)")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
