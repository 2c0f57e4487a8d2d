"""No provisional code is committed without its letter (DESIGN invariant 5)."""

import pytest

from carnet.enrollment import services
from carnet.enrollment.models import ProvisionalCode, Space
from tests.factories import InsuredPersonFactory


def test_letters_are_written_for_persons_without_email(db, settings):
    InsuredPersonFactory(email="")
    InsuredPersonFactory(email="avec@exemple.fr")
    report = services.codes_send()
    assert (report.emails, report.letters) == (1, 1)
    [path] = report.letter_files
    assert open(path, "rb").read(5) == b"%PDF-"


def test_a_letter_that_cannot_be_written_leaves_no_code(db, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.LETTERS_DIR = blocker / "letters"  # mkdir fails: a file is in the way
    person = InsuredPersonFactory(email="")
    with pytest.raises(OSError):
        services.codes_send()
    assert not ProvisionalCode.objects.filter(person=person).exists()
    assert not Space.objects.filter(person=person).exists()
    # once the disk is fixed, the next run sends the code
    settings.LETTERS_DIR = tmp_path / "letters"
    assert services.codes_send().letters == 1
