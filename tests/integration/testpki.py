"""Certificates for tests: a CA made for the test run and leaf certificates
it signs (python3-cryptography), written as PEM files."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID



def cert_name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_pem(path, key, cert):
    path.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path.with_suffix(".pem"), path.with_suffix(".key")


def leaf_cert(ca_key, ca_cert, names, cn="outpost test server", expired=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = ((now - datetime.timedelta(days=2), now - datetime.timedelta(hours=1))
                  if expired else (now - datetime.timedelta(hours=1),
                                   now + datetime.timedelta(days=1)))
    b = (x509.CertificateBuilder().subject_name(cert_name(cn)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                            critical=False)
    return key, b.sign(ca_key, hashes.SHA256())




def make_ca(cn="outpost test CA"):
    """A new CA: (key, certificate), valid a day."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(cert_name(cn))
          .issuer_name(cert_name(cn)).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    return ca_key, ca


def spki_sha256(cert):
    """The SHA-256 of a certificate's SubjectPublicKeyInfo, hex (TLSA 3 1 1)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    h = hashes.Hash(hashes.SHA256())
    h.update(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    return h.finalize().hex()


def cert_sha256(cert):
    """The SHA-256 of a whole certificate (DER), hex (TLSA x 0 1)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    h = hashes.Hash(hashes.SHA256())
    h.update(cert.public_bytes(Encoding.DER))
    return h.finalize().hex()
