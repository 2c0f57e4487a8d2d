"""Test settings: the real settings, with tasks run immediately and demo pages on."""

from carnet.settings import *  # noqa: F403
from carnet.settings import VAR_DIR

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DEMO_MODE = True
BLOB_DIR = VAR_DIR / "test-blobs"
LETTERS_DIR = VAR_DIR / "test-letters"
