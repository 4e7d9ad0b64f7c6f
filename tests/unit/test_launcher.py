"""What `make run` starts the platform with: its own vhost, logs that start as JSON."""
from onestop.dev.launcher import QUIET_EVENTLET, Platform, Ports


def test_make_run_uses_a_vhost_of_its_own_and_says_which(monkeypatch):
    monkeypatch.delenv("AMQP_URI", raising=False)
    platform = Platform()
    assert platform.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/onestop-dev"
    assert platform.base_env()["AMQP_URI"] == platform.amqp_uri  # every process is told, not left to a default
    line = next(line for line in platform.describe().splitlines() if "RabbitMQ" in line)
    assert line.split() == ["RabbitMQ", "amqp://guest:***@127.0.0.1:5672/onestop-dev", "(vhost", "onestop-dev)"]


def test_an_explicit_broker_is_used_as_given(monkeypatch):
    monkeypatch.setenv("AMQP_URI", "amqp://ops:s3cret@rabbit:5672/prod")
    assert Platform().amqp_uri == "amqp://ops:s3cret@rabbit:5672/prod"
    assert "s3cret" not in Platform().describe() and "(vhost prod)" in Platform().describe()
    assert Platform(env={"AMQP_URI": "amqp://h/onestop-test-1"}).base_env()["AMQP_URI"] == "amqp://h/onestop-test-1"


def test_the_services_start_without_the_warning_that_is_not_json():
    assert Platform().base_env()["PYTHONWARNINGS"] == QUIET_EVENTLET == "ignore::Warning:nameko.cli.commands"


def test_each_service_runs_as_its_own_broker_user_and_the_rest_keep_the_admin_uri(monkeypatch):
    monkeypatch.delenv("AMQP_URI", raising=False)
    users = {"intake": "amqp://onestop-dev-intake:pw-i@127.0.0.1:5672/onestop-dev",
             "routing": "amqp://onestop-dev-routing:pw-r@127.0.0.1:5672/onestop-dev",
             "operator": "amqp://onestop-dev-operator:pw-o@127.0.0.1:5672/onestop-dev"}
    platform = Platform(broker_users=users, shards={"routing": ["hue-vyda", "hue-phuxuan"]}, witness=False)
    envs = {name: extra.get("AMQP_URI") for name, (_argv, extra, _port) in platform.commands().items()}
    assert envs == {"smtp-sink": None, "sms-sink": None, "intake": users["intake"], "routing": users["routing"],
                    "routing-2": users["routing"], "notification": None, "audit": None, "webhooks": None,
                    "console": None,  # issue 17: the console runs as onestop-dev-console when make run made it
                    "alerts": None}  # issue 17, alerts
    described = platform.describe()
    assert "onestop-dev-intake, onestop-dev-routing, onestop-dev-operator" in described and "pw-" not in described


def test_alerts_watches_every_other_service_at_its_port(monkeypatch):
    """Issue 17, alerts: make run's alerts service is told where the others' /healthz are."""
    monkeypatch.delenv("ALERTS_TARGETS", raising=False)
    platform = Platform(ports=Ports(intake=9101, webhooks=9105), witness=False)
    settings = platform.settings()
    assert dict(settings.alerts_targets) == {
        "intake": "http://127.0.0.1:9101", "routing": "http://127.0.0.1:8002", "notification": "http://127.0.0.1:8003",
        "audit": "http://127.0.0.1:8004", "webhooks": "http://127.0.0.1:9105", "console": "http://127.0.0.1:8000"}
    assert platform.commands()["alerts"][2] == 8007 and "OPERATORS_EMAIL" in platform.base_env()
