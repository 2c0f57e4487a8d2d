"""Test settings: the real settings, with tasks run immediately and demo pages on."""

from carnet.settings import *  # noqa: F403
from carnet.settings import VAR_DIR, cookie_settings

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DEMO_MODE = True
BLOB_DIR = VAR_DIR / "test-blobs"
LETTERS_DIR = VAR_DIR / "test-letters"
# Like the demo, the tests (and the e2e live server) run on plain HTTP: no "__Host-" cookies.
vars().update(cookie_settings(secure=False))
