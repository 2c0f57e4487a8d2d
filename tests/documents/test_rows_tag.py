"""`{% document_rows %}` writes the rows of « Mes documents » exactly as the template loop it
replaced wrote them — the same bytes, every value escaped by autoescape — for any row:
titles and names with markup characters, quotes and accents, any author, badges, dates or no
date (hypothesis)."""

from datetime import date

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

# The loop as it was in documents/index.html, the reference.
LOOP = Template(
    """{% load carnet_format %}  {% for doc, link in rows %}
  <li class="card document-row">
    <h2><a href="{{ link }}">{{ doc.title }}</a>{% if doc.pinned %} <span class="badge">Épinglé</span>{% endif %}{% if doc.hidden %} <span class="badge badge-hidden">Masqué aux professionnels</span>{% endif %}</h2>
    <dl class="facts">
      <dt>Catégorie</dt><dd>{{ doc.category_label }}</dd>
      <dt>Date du document</dt><dd>{{ doc.document_date|jour }}</dd>
      <dt>Ajouté par</dt><dd>{% if doc.author_kind == "usager" %}Vous ({{ doc.author_name }}){% else %}{{ doc.author_name }}{% if doc.author_establishment %}, {{ doc.author_establishment }}{% endif %}{% endif %}</dd>
    </dl>
  </li>
  {% endfor %}
"""  # noqa: E501 (the template's lines, as they were)
)
TAG = Template("{% load documents_list %}  {% document_rows rows %}\n")

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["", "<script>alert(1)</script>", "a \"b\" & 'c'", "Compte rendu d'échographie", "0"]
)
rows = st.fixed_dictionaries(
    {
        "title": text,
        "category_label": text,
        "document_date": st.none() | st.dates(min_value=date(1000, 1, 1)),
        "author_kind": st.sampled_from(["usager", "professionnel", "etablissement"]),
        "author_name": text,
        "author_establishment": text,
        "hidden": st.booleans(),
        "pinned": st.booleans(),
    }
)


@given(st.lists(st.tuples(rows, text), max_size=6))
def test_the_tag_writes_what_the_loop_wrote(pairs):
    assert TAG.render(Context({"rows": pairs})) == LOOP.render(Context({"rows": pairs}))


def test_a_row_escapes_what_a_person_or_a_professional_typed():
    row = {
        "title": '<img src=x onerror="alert(1)">',
        "category_label": "Compte rendu",
        "document_date": date(2026, 11, 2),
        "author_kind": "professionnel",
        "author_name": "Dr <b>Martin</b>",
        "author_establishment": "Clinique & Cie",
        "hidden": True,
        "pinned": False,
    }
    html = TAG.render(Context({"rows": [(row, "/documents/x/")]}))
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<dd>Dr &lt;b&gt;Martin&lt;/b&gt;, Clinique &amp; Cie</dd>" in html
    assert "<dd>2 novembre 2026</dd>" in html
    assert "Masqué aux professionnels" in html and "Épinglé" not in html
