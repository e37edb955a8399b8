"""A development PKI: a local CA, the bridge's server certificate, edge gateway certificates.

The edge gateway's identity is the Common Name of its client certificate; the bridge
lets a gateway send only for the turbines registered to that name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    path.parent.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    return Issued(cert_path, key_path)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Anemos dev"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def create_ca(path: Path, cn: str = "Anemos development CA", days: int = 3650) -> Issued:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write(path, cert, key)


def issue(
    ca: Issued, path: Path, cn: str, *, server: bool, hosts: tuple[str, ...] = (), not_before: dt.datetime | None = None,
    days: int = 825,
) -> Issued:
    """A leaf certificate signed by ``ca``: a server one (with SANs) or an edge client one (CN = edge id)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), None)
    key = _key()
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if hosts:
        sans: list[x509.GeneralName] = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return _write(path, cert, key)


def self_signed_client(path: Path, cn: str) -> Issued:
    """A client certificate no CA vouches for (tests prove the bridge refuses it)."""
    return create_ca(path, cn=cn, days=30)


@dataclass(frozen=True)
class DevPki:
    ca: Issued
    server: Issued

    def edge(self, edge_id: str) -> Issued:
        """The certificate of gateway ``edge_id``, issued on first use."""
        path = self.ca.cert.parent / "edges" / edge_id
        if not path.with_suffix(".crt").exists():
            issue(self.ca, path, edge_id, server=False)
        return Issued(path.with_suffix(".crt"), path.with_suffix(".key"))


def ensure_dev_pki(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> DevPki:
    """The CA and server certificate under ``folder``, created once."""
    ca_path, server_path = folder / "ca", folder / "bridge"
    ca = Issued(ca_path.with_suffix(".crt"), ca_path.with_suffix(".key"))
    if not ca.cert.exists():
        ca = create_ca(ca_path)
    server = Issued(server_path.with_suffix(".crt"), server_path.with_suffix(".key"))
    if not server.cert.exists():
        server = issue(ca, server_path, "anemos-edge-bridge", server=True, hosts=hosts)
    return DevPki(ca, server)


def channel_credentials(ca_cert: Path, client: Issued | None) -> "grpc.ChannelCredentials":
    """gRPC client credentials: trust ``ca_cert``, present ``client`` (edge certificate)."""
    import grpc

    return grpc.ssl_channel_credentials(
        root_certificates=ca_cert.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )


def dev_server_tls(folder: Path) -> dict[str, Path]:
    """The server side of local mTLS (the bridge's, the gate's): certificate, key, and the CA clients must chain to."""
    pki = ensure_dev_pki(folder)
    return {"tls_cert": pki.server.cert, "tls_key": pki.server.key, "tls_client_ca": pki.ca.cert}
