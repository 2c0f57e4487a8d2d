"""The `carnet` command: a thin wrapper of Django's management commands (`carnet migrate`…)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carnet.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["carnet", *sys.argv[1:]])


if __name__ == "__main__":
    main()
