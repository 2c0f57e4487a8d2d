"""French words the pages write often, kept as plain strings: the service speaks only French,
and Django's lazily translated names cost a translation lookup at each use (a list writes a
date on every row)."""

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip
