"""Deployment checks refuse a production configuration that would leak codes."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_deploy_check_refuses_demo_mode(settings):
    settings.DEMO_MODE = True
    with pytest.raises(SystemCheckError, match="carnet.E001"):
        call_command("check", "--deploy", "--fail-level", "ERROR", "--tag", "security")


def test_deploy_check_passes_our_check_without_demo_mode(settings):
    settings.DEMO_MODE = False
    call_command("check", "--deploy", "--fail-level", "ERROR", "--tag", "security")


def test_a_malformed_storage_url_is_reported_at_start(settings):
    from carnet.core.checks import storage_url_valid

    settings.STORAGE_URL = "ftp://exemple.fr/seau"
    [error] = storage_url_valid(None)
    assert error.id == "carnet.E002"
    assert "STORAGE_URL" in error.msg
    settings.STORAGE_URL = ""
    assert storage_url_valid(None) == []
