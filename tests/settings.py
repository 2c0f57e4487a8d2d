"""Test settings: the real settings, with tasks run immediately and demo pages on."""

from carnet.settings import *  # noqa: F403
from carnet.settings import VAR_DIR, cookie_settings

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DEMO_MODE = True
BLOB_DIR = VAR_DIR / "test-blobs"
LETTERS_DIR = VAR_DIR / "test-letters"
# Like the demo, the tests (and the e2e live server) run on plain HTTP: no "__Host-" cookies.
vars().update(cookie_settings(secure=False))
SECURE_SSL_REDIRECT = False
# As CARNET_DEMO=1 gives (carnet.settings reads it before DEMO_MODE is set here): a catalogue
# app may come back to a loopback http address, as the demo app of `carnet seed_demo` does.
OAUTH2_PROVIDER = {  # noqa: F405
    **OAUTH2_PROVIDER,  # noqa: F405
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    "ALLOW_LOCALHOST_LOOPBACK": True,
}
