"""How the services reach a production broker: TLS (mutual, for a KafkaUser with tls
authentication) or SASL over TLS, from KAFKA_* settings, refused when half-given.

The embedded broker speaks plaintext only, so what these check is the configuration every
aiokafka client is built from; the manifests' production overlay sets it (deploy/)."""

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from hhc_chassis.kafka import connection_options
from hhc_devstack.partners import make_self_signed_certificate

from .support import settings_for

PASSWORD = "s3cret-for-tests"  # noqa: S105 - a test value, not a credential


def test_plaintext_for_the_embedded_broker_carries_no_tls_or_credentials() -> None:
    options = connection_options(settings_for("postgresql://db", "a:9092,b:9092"))
    assert options == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}


def test_mutual_tls_verifies_the_broker_and_presents_the_service_certificate(
    tmp_path: Path,
) -> None:
    cert, key = make_self_signed_certificate(tmp_path)
    settings = settings_for(
        "postgresql://db",
        "kafka:9093",
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=cert,
        kafka_ssl_cert_file=cert,
        kafka_ssl_key_file=key,
    )
    options = connection_options(settings)
    context: ssl.SSLContext = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert len(context.get_ca_certs()) == 1


def test_sasl_over_tls_passes_the_credentials_and_keeps_the_password_out_of_repr() -> None:
    settings = settings_for(
        "postgresql://db",
        "kafka:9094",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="hhc-intake",
        kafka_sasl_password=PASSWORD,
    )
    options = connection_options(settings)
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-512",
        "hhc-intake",
    )
    assert options["sasl_plain_password"] == PASSWORD
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_mechanism": "PLAIN"}, "not SASL_"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "/c.pem"},
            "KAFKA_SSL_KEY_FILE",
        ),
        ({"kafka_ssl_ca_file": "/ca.pem"}, "does not use TLS"),
    ],
)
def test_half_given_security_is_refused_at_start(given: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        settings_for("postgresql://db", "kafka:9093", **given)
