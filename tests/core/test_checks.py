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
