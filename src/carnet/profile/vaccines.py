"""Reference list of the vaccines of the French vaccination calendar (code, label)."""

VACCINES = [
    ("dtcap", "Diphtérie, tétanos, coqueluche, poliomyélite (DTCaP)"),
    ("dtp", "Diphtérie, tétanos, poliomyélite (dTP)"),
    ("hib", "Haemophilus influenzae b"),
    ("hepb", "Hépatite B"),
    ("hexavalent", "Hexavalent (DTCaP-Hib-HepB)"),
    ("pneumo", "Pneumocoque"),
    ("menc", "Méningocoque C"),
    ("menacwy", "Méningocoques ACWY"),
    ("menb", "Méningocoque B"),
    ("ror", "Rougeole, oreillons, rubéole (ROR)"),
    ("hpv", "Papillomavirus humains (HPV)"),
    ("bcg", "Tuberculose (BCG)"),
    ("grippe", "Grippe saisonnière"),
    ("covid19", "Covid-19"),
    ("zona", "Zona"),
    ("rsv", "Virus respiratoire syncytial (VRS)"),
    ("rotavirus", "Rotavirus"),
    ("varicelle", "Varicelle"),
    ("hepa", "Hépatite A"),
    ("fievre_jaune", "Fièvre jaune"),
    ("typhoide", "Fièvre typhoïde"),
    ("rage", "Rage"),
    ("encephalite", "Encéphalite à tiques"),
    ("autre", "Autre vaccin"),
]
LABELS = dict(VACCINES)
