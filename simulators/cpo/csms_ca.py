"""The mock CSMS's certificate authority for its stations: it signs a station's certificate signing
request (1.6 security extension "SignCertificate" / 2.0.1 A02-A03) and the CSMS sends the result
back with CertificateSigned.

Deterministic by design, so sim runs stay byte-identical: the CA key is Ed25519 derived from the
CPO id (Ed25519 signatures carry no random nonce), serial numbers come from the request, validity
from the scenario clock. A test CA, never one to trust: anyone who knows the CPO id has its key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

VALIDITY = timedelta(days=365)


class StationCa:
    def __init__(self, cpo_id: str) -> None:
        seed = hashlib.sha256(f"emsp-bench station CA {cpo_id}".encode()).digest()
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{cpo_id} station CA")])
        self._root: x509.Certificate | None = None

    def root(self, now: datetime) -> x509.Certificate:
        if self._root is None:
            builder = (
                x509.CertificateBuilder()
                .subject_name(self._name)
                .issuer_name(self._name)
                .public_key(self._key.public_key())
                .serial_number(1)
                .not_valid_before(now)
                .not_valid_after(now + 10 * VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            )
            self._root = builder.sign(self._key, None)
        return self._root

    def sign(self, csr_pem: str, now: datetime) -> str | None:
        """The certificate chain (station certificate, then this CA's) in PEM, or None when the
        request is no valid CSR or its signature does not verify."""
        try:
            request = x509.load_pem_x509_csr(csr_pem.encode("utf-8"))
        except ValueError:
            return None
        if not request.is_signature_valid:
            return None
        root = self.root(now)
        serial = int.from_bytes(hashlib.sha256(request.public_bytes(Encoding.DER)).digest()[:16], "big") | 1
        leaf = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(root.subject)
            .public_key(request.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, None)
        )
        return (leaf.public_bytes(Encoding.PEM) + root.public_bytes(Encoding.PEM)).decode("ascii")
