"""`carnet demo_totp`: the current code of the demo professional's authenticator, for whoever
tries the professionals' portal without an authenticator app. Demo mode only."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User

from .seed_demo import DEMO_PRO_IDENTIFIER, DEMO_TOTP_DEVICE, NOT_DEMO


def demo_device() -> TOTPDevice | None:
    return TOTPDevice.objects.filter(
        user__identifier=DEMO_PRO_IDENTIFIER,
        user__kind=User.Kind.PROFESSIONAL,
        name=DEMO_TOTP_DEVICE,
        confirmed=True,
    ).first()


def usable_code(device: TOTPDevice, at: float | None = None) -> tuple[str, int]:
    """(the code the login accepts now, seconds before the authenticator shows another).

    The device's drift is the one the login's check applies. django-otp refuses a code of a time
    step already used: after a login in the same 30 s, this is the next step's code, which the
    check accepts within its tolerance of one step (what the e2e Authenticator does too)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if at is not None:
        totp.time = at
    now = totp.t()
    if device.last_t is not None and device.last_t >= now:
        totp.drift += device.last_t + 1 - now
    remaining = device.step - (int(totp.time) - device.t0) % device.step
    return f"{totp.token():0{device.digits}d}", remaining


class Command(BaseCommand):
    help = (
        "Affiche le code à 6 chiffres du moment du professionnel de démonstration "
        f"({DEMO_PRO_IDENTIFIER}), celui qu'afficherait son application d'authentification, "
        "pour se connecter sur /pro/connexion/ sans application. Seulement en mode "
        "démonstration (CARNET_DEMO=1), après carnet seed_demo."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError(NOT_DEMO.format(what="carnet demo_totp n'affiche aucun code"))
        device = demo_device()
        if device is None:
            raise CommandError(
                f"le professionnel de démonstration {DEMO_PRO_IDENTIFIER} n'a pas d'application "
                "d'authentification de démonstration : lancez d'abord « carnet seed_demo »."
            )
        code, remaining = usable_code(device)
        self.stdout.write(code)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Code de {DEMO_PRO_IDENTIFIER}, à saisir sur /pro/connexion/ après le mot de "
                f"passe ; le suivant s'affiche dans {remaining} s (un code déjà utilisé est "
                "refusé : relancez carnet demo_totp)."
            )
