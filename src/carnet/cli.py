"""The `carnet` command: a thin wrapper of Django's management commands (`carnet migrate`…)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carnet.settings")
    from django.core.management import execute_from_command_line

    argv = ["carnet", *sys.argv[1:]]
    if "--traceback" in argv:
        execute_from_command_line(argv)
        return
    try:
        execute_from_command_line(argv)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # an operator gets one line; --traceback shows the rest
        reason = str(exc).splitlines()[0] if str(exc) else ""
        print(f"carnet : échec : {exc.__class__.__name__} {reason}".rstrip(), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
