"""The SMS gateway's session reads the environment's proxy settings once, at start-up."""
from services.notification.channels import _session_for


def test_a_proxy_in_the_environment_is_used_and_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.vn:3128")
    monkeypatch.setenv("NO_PROXY", "sms.internal")
    assert _session_for("https://sms.example.vn/api/v1/sms").proxies.get("https") == "http://proxy.example.vn:3128"
    assert not _session_for("https://sms.internal/api/v1/sms").proxies.get("https")
    session = _session_for("https://sms.example.vn/api/v1/sms")
    assert session.trust_env is False  # not read again on every call


def test_a_ca_bundle_in_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ward-ca.pem")
    assert _session_for("https://sms.example.vn/").verify == "/etc/ssl/certs/ward-ca.pem"
