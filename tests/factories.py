"""factory_boy factories with traits for the common states. All data is synthetic."""

from datetime import date

import factory

from carnet.core.validators import nir_key
from carnet.registry.models import InsuredPerson


def make_nir(sex: int, birth: date, order: int, dept: str = "75", commune: int = 112) -> str:
    first13 = f"{sex}{birth:%y}{birth:%m}{dept}{commune:03d}{order % 1000:03d}"
    return f"{first13}{nir_key(first13):02d}"


class InsuredPersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InsuredPerson

    sex = "F"
    birth_date = date(1980, 5, 17)
    nir = factory.Sequence(lambda n: make_nir(2, date(1980, 5, 17), n + 1, commune=100 + n // 1000))
    last_name = factory.Sequence(lambda n: f"TEST{n}")
    first_name = "Alice"
    vitale_serial = factory.Sequence(lambda n: f"{12345000000 + n:011d}")
    vitale_photo = True
    email = factory.Sequence(lambda n: f"assure{n}@exemple.fr")
    mobile = factory.Sequence(lambda n: f"+336{10000000 + n:08d}")
    scheme = "Régime général"
