"""`{% url %}`, with the argument-free reversals remembered (a template builtin: every template
uses this `url` instead of Django's).

A page reverses a score of fixed links — the menu, the footer, its own actions — and Django's
reverse costs about 40 µs each (regular expressions, quoting): a tenth of a documents list.
Their result only depends on the URLconf and the script prefix, fixed while the process runs,
so it is computed once per process; reversals with arguments (a document's link) are left to
Django at each call.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.template import defaulttags
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


@lru_cache(maxsize=1024)
def _fixed(view_name: str, current_app: str | None, urlconf: str, prefix: str, resolver) -> str:
    # `resolver`, Django's cached resolver of the URLconf, only keys the cache: Django's own
    # clear_url_caches() (a change of ROOT_URLCONF, of the patterns) replaces it, so such a
    # change is seen here too.
    return reverse(view_name, urlconf=urlconf, current_app=current_app)


class URLNode(defaulttags.URLNode):
    def render(self, context):
        if self.args or self.kwargs or self.asvar:
            return super().render(context)
        # Which namespace instance to prefer, found as Django's URLNode finds it.
        request = getattr(context, "request", None)
        try:
            current_app = request.current_app
        except AttributeError:
            match = getattr(request, "resolver_match", None)
            current_app = match.namespace if match is not None else None
        view_name = self.view_name.resolve(context)
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        url = _fixed(view_name, current_app, urlconf, get_script_prefix(), get_resolver(urlconf))
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return URLNode(node.view_name, node.args, node.kwargs, node.asvar)
