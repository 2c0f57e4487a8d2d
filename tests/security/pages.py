"""What every page must carry: the security headers, and no inline script or style."""

from html.parser import HTMLParser

CSP = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
    "base-uri": {"'none'"},
    "object-src": {"'none'"},
}
FEATURES_OFF = ("camera", "microphone", "geolocation", "payment", "usb")


def csp_directives(header: str) -> dict[str, set[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = set(values)
    return directives


def header_problems(response) -> list[str]:
    problems = []
    csp = response.get("Content-Security-Policy")
    if csp is None:
        problems.append("no Content-Security-Policy")
    elif csp_directives(csp) != CSP:
        problems.append(f"Content-Security-Policy is {csp!r}")
    expected = {
        "X-Content-Type-Options": {"nosniff"},
        # "no-referrer" is stricter: the pages of a share link, whose address is its key.
        "Referrer-Policy": {"same-origin", "no-referrer"},
        "X-Frame-Options": {"DENY"},
    }
    for name, values in expected.items():
        if response.get(name) not in values:
            problems.append(f"{name} is {response.get(name)!r}")
    features = {
        f.strip().split("=")[0]: f.strip().split("=")[1]
        for f in response.get("Permissions-Policy", "").split(",")
        if "=" in f
    }
    for feature in FEATURES_OFF:
        if features.get(feature) != "()":
            problems.append(f"Permissions-Policy does not turn off {feature}")
    return problems


class _Inline(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not attributes.get("src"):
                self.problems.append("a <script> without src")
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"a style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"an event handler attribute {name} on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"a javascript: URL on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("inline script content")


def inline_problems(response) -> list[str]:
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    parser = _Inline()
    parser.feed(response.content.decode())
    parser.close()
    return parser.problems
