"""Sends one webhook attempt to a TLS server whose certificate nobody vouches for, and prints the
outcome: what tests/unit/test_webhook_rules.py expects is a refusal, never a delivery.

    python -m tests.support.tls_probe     # -> "retry TLS certificate refused"
"""
import eventlet

eventlet.monkey_patch()  # noqa: E402  (as `nameko run` does, before ssl is imported)

import socket  # noqa: E402
import ssl  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from services.webhooks.sender import Sender  # noqa: E402
from services.webhooks.targets import Target  # noqa: E402

HOST = "hooks.example.vn"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), False).sign(key, hashes.SHA256()))
    (folder / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return folder / "c.pem", folder / "k.pem"


def main():
    with tempfile.TemporaryDirectory() as folder:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed(Path(folder)))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass  # the client hung up during the handshake, as it should
    threading.Thread(target=serve, daemon=True).start()
    result, _ = Sender(2, 2, 5).post(Target("https", HOST, listener.getsockname()[1], "/", "127.0.0.1"), "{}", {})
    print(result.kind, result.error)


if __name__ == "__main__":
    main()
