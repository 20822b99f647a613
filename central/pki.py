"""A small private CA for the broker: the CA, the broker's server certificate, nothing else.

Terminals authenticate with a username and password over TLS (one per device, see
:mod:`central.devices`); TLS gives them a broker they can trust and keeps passwords and punches
off the office LAN in clear. Keys are written 0600 and never logged.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class Issued:
    """Where the files went."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pemerintah Kota Kupang - Hadir"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def make_ca_and_server(
    folder: Path, hostnames: list[str], *, days: int = 825, now: datetime | None = None
) -> Issued:
    """Create ``ca.crt``/``ca.key`` (if absent) and a server cert for ``hostnames`` in ``folder``.

    ``hostnames`` may hold DNS names and IP addresses; all go into the subjectAltName, which is
    what TLS clients check.
    """
    if not hostnames:
        raise ValueError("give at least one hostname or IP address for the broker")
    folder.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    ca_cert_path, ca_key_path = folder / "ca.crt", folder / "ca.key"
    if ca_key_path.exists() and ca_cert_path.exists():
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ca_key_path}: not an EC key made by this tool")
        ca_key = loaded
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Hadir broker CA"))
            .issuer_name(_name("Hadir broker CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(ca_key_path, ca_key)
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostnames[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_cert, server_key = folder / "broker.crt", folder / "broker.key"
    _write_key(server_key, key)
    server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(ca_cert_path, ca_key_path, server_cert, server_key)
