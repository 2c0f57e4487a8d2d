"""`carnet demo_tls [DIR]`: a self-signed TLS pair for the demo SMTP gateway (`make run`).

Demo mode only (CARNET_DEMO=1): the certificate is trusted by nobody and only good for
127.0.0.1 / localhost; a real gateway uses the certificate of its own name. Writes
DIR/cert.pem and DIR/key.pem (mode 0600) when they are absent, unreadable or expired; a pair
that is still usable is kept, so that `make run` can run it every time.
"""

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 365
NOT_DEMO = (
    "le mode démonstration n'est pas actif (CARNET_DEMO=1) : carnet demo_tls ne crée rien. "
    "Son certificat auto-signé ne vaut que pour la démonstration (make run) ; en production, "
    "CARNET_SMTPD_TLS_CERT et CARNET_SMTPD_TLS_KEY désignent le certificat du nom de la "
    "passerelle."
)


def demo_tls_paths(folder: Path) -> tuple[Path, Path]:
    return folder / CERT_NAME, folder / KEY_NAME


def _usable(cert_file: Path, key_file: Path) -> bool:
    """Both files there, the pair loads, and the certificate is valid for a day more."""
    from cryptography import x509

    if not (cert_file.is_file() and key_file.is_file()):
        return False
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError, ssl.SSLError):
        return False
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    return cert.not_valid_after_utc > soon


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written beside, flushed, then renamed: never half a file under the final name."""
    partial = path.with_name(f".{path.name}.partiel")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)


def demo_tls_write(folder: Path) -> tuple[Path, Path, bool]:
    """(certificate, key, created): the pair in `folder`, made if not usable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_file, key_file = demo_tls_paths(folder)
    if _usable(cert_file, key_file):
        return cert_file, key_file, False
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Carnet (démonstration, auto-signé)"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_file, key_pem, 0o600)
    _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_file, key_file, True


class Command(BaseCommand):
    help = (
        "Écrit dans DOSSIER (défaut : var/smtpd/) un certificat auto-signé et sa clé pour "
        "127.0.0.1 / localhost (cert.pem, key.pem en mode 0600), s'ils manquent : le TLS de la "
        "passerelle SMTP de démonstration. Seulement en mode démonstration (CARNET_DEMO=1)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "dossier",
            nargs="?",
            default=None,
            help="Dossier du certificat et de la clé (défaut : var/smtpd/).",
        )

    def handle(self, *args, dossier=None, **options):
        if not settings.DEMO_MODE:
            raise CommandError(NOT_DEMO)
        folder = Path(dossier) if dossier else settings.VAR_DIR / "smtpd"
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} existe et n'est pas un dossier.")
        try:
            cert_file, key_file, created = demo_tls_write(folder)
        except OSError as exc:
            raise CommandError(
                f"impossible d'écrire le certificat dans {folder} : {exc.strerror or exc}"
            ) from exc
        if created:
            self.stdout.write(
                f"Certificat TLS de démonstration (auto-signé, 127.0.0.1 / localhost) écrit : "
                f"{cert_file} et {key_file}"
            )
        else:
            self.stdout.write(f"Certificat TLS de démonstration déjà présent : {cert_file}")
