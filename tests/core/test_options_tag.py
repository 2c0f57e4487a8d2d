"""`{% options %}` writes exactly what the template loop it replaces wrote: for any choices
(markup characters, accents, values that look alike) and any selected value, chosen or not."""

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

LOOP = Template(
    '{% for value, label in choices %}<option value="{{ value }}"{% if value == selected %}'
    " selected{% endif %}>{{ label }}</option>{% endfor %}"
)
TAG = Template("{% options choices selected %}")

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", "<b>", "a&b", '"', "'", "Épinglés", "CPT_REND"]
)


@given(st.lists(st.tuples(text, text), max_size=15), st.data())
def test_the_tag_writes_what_the_loop_wrote(choices, data):
    values = [value for value, _ in choices]
    anything = text | st.none()
    selected = data.draw(st.sampled_from(values) | anything if values else anything)
    context = {"choices": choices, "selected": selected}
    assert TAG.render(Context(context)) == LOOP.render(Context(context))
    # Asked again (the remembered answer), the same.
    assert TAG.render(Context(context)) == LOOP.render(Context(context))


def test_no_selected_value_selects_nothing_and_labels_are_escaped():
    html = TAG.render(Context({"choices": [("a", "<i>A</i>"), ("b", "B")], "selected": None}))
    assert html == ('<option value="a">&lt;i&gt;A&lt;/i&gt;</option><option value="b">B</option>')


def test_a_value_that_is_none_of_the_choices_adds_nothing_to_the_cache():
    """`selected` often comes from a query string: any text must not grow the memory."""
    from carnet.core.templatetags.carnet_forms import _options

    choices = [("a", "A"), ("b", "B")]
    TAG.render(Context({"choices": choices, "selected": "inconnu-0"}))
    size = _options.cache_info().currsize
    for n in range(50):
        html = TAG.render(Context({"choices": choices, "selected": f"inconnu-{n}"}))
        assert "selected" not in html
    assert _options.cache_info().currsize == size
