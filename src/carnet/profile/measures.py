"""Measurement types: unit, plausible range and LOINC code, in one table of named constants."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MeasureType:
    key: str
    label: str
    unit: str
    low: Decimal
    high: Decimal
    loinc: str = ""
    two_values: bool = False  # blood pressure: systolic / diastolic
    computed: bool = False  # BMI: never typed


def _d(value) -> Decimal:
    return Decimal(str(value))


TYPES = {
    t.key: t
    for t in [
        MeasureType("poids", "Poids", "kg", _d(0.3), _d(400), "29463-7"),
        MeasureType("taille", "Taille", "cm", _d(20), _d(260), "8302-2"),
        MeasureType("imc", "Indice de masse corporelle", "kg/m²", _d(5), _d(150), "39156-5",
                    computed=True),
        MeasureType("tour_taille", "Tour de taille", "cm", _d(20), _d(300), "8280-0"),
        MeasureType("perimetre_cranien", "Périmètre crânien", "cm", _d(20), _d(70), "9843-4"),
        MeasureType("temperature", "Température", "°C", _d(30), _d(45), "8310-5"),
        MeasureType("tension", "Tension artérielle", "mmHg", _d(20), _d(300), "85354-9",
                    two_values=True),
        MeasureType("frequence_cardiaque", "Fréquence cardiaque", "bpm", _d(20), _d(250),
                    "8867-4"),
        MeasureType("glycemie", "Glycémie", "g/L", _d(0.1), _d(10), "2345-7"),
        MeasureType("hba1c", "Hémoglobine glyquée (HbA1c)", "%", _d(3), _d(20), "4548-4"),
        MeasureType("douleur", "Douleur", "/10", _d(0), _d(10)),
        MeasureType("pas", "Nombre de pas par jour", "pas", _d(0), _d(100000), "41950-7"),
    ]
}  # fmt: skip

# Blood pressure: each value has its own range (systolic 50–300, diastolic 20–200).
SYSTOLIC_RANGE = (_d(50), _d(300))
DIASTOLIC_RANGE = (_d(20), _d(200))
# Glycaemia typed in mmol/L is converted to g/L (1 g/L = 5.551 mmol/L for glucose).
GLUCOSE_MMOL_PER_G = _d("5.551")
TYPED_TYPES = [t for t in TYPES.values() if not t.computed]
