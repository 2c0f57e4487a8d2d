"""Reading our HTML pages in tests: the error next to a field, and its aria-invalid mark."""

import html
import re


def field_error(page: str, field: str) -> str | None:
    """The text of the error shown next to the field (unescaped), or None."""
    found = re.search(
        rf'<p class="error-message" id="id_{field}-erreur">(.*?)</p>', page, re.DOTALL
    )
    return html.unescape(found.group(1)).strip() if found else None


def is_invalid(page: str, field: str) -> bool:
    """The input (or the first input of a partial date) is marked aria-invalid."""
    for input_id in (f"id_{field}", f"id_{field}_0"):
        tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{input_id}"[^>]*>', page)
        if tag:
            return 'aria-invalid="true"' in tag.group(0)
    return False
