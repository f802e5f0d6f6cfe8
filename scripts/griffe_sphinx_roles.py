"""A griffe extension for the API reference (mkdocs.yml): the docstrings are written with
Sphinx roles (``:class:`World```) and literal blocks (``::``); MkDocs renders Markdown, so each
role becomes plain code (`World`) and each ``::`` a colon before its indented block."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|data|func|meth|attr|mod|exc|obj|const):`~?([^`]+)`")
LITERAL = re.compile(r"(?<=\S)::$", re.M)
BARE_LITERAL = re.compile(r"^(\s*)::$", re.M)


def markdown(text: str) -> str:
    """The docstring ``text`` with Sphinx roles and literal-block markers made Markdown."""
    text = ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = BARE_LITERAL.sub("", text)
    return LITERAL.sub(":", text)


class SphinxRoles(griffe.Extension):
    """Rewrites every loaded object's docstring with :func:`markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
