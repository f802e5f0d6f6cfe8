"""Safe reading and deterministic writing of VSS's XML documents (shared, private).

Writer Metadata Documents and Backup Components Documents are both attribute-only XML in a
default ``x-schema:#...`` namespace. An :class:`XmlDialect` holds what differs between them (the
document's name in messages, its namespace, which elements repeat); everything else is one
piece of code: expat parsing with DTDs and entity declarations refused, a small element tree
that remembers where each element was, and the checks that turn a bad document into a
``VssError`` naming the element path, attribute and line.

Malformed text is ``VSS_E_CORRUPT_XML_DOCUMENT``; well-formed text that is not the expected
document is ``VSS_E_INVALID_XML_DOCUMENT``; a value the format cannot carry, on export, is
``E_INVALIDARG``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import NoReturn, TypeVar
from xml.parsers import expat

import attrs

from vsssim.errors import HResult, VssError

_E = TypeVar("_E", bound=Enum)

YES, NO = "yes", "no"

_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}\}?")
#: Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Escapes for attribute values; tab, newline and carriage return are escaped so that a parser's
#: attribute-value normalisation does not turn them into spaces.
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def tag(name: str, attributes: Sequence[tuple[str, str]], *, empty: bool) -> str:
    """A start tag (``empty``: self-closing) from already-escaped attribute values."""
    text = "".join(f' {key}="{value}"' for key, value in attributes)
    return f"<{name}{text}{'/' if empty else ''}>"


def yes_no(value: bool) -> str:
    """A boolean as VSS spells it."""
    return YES if value else NO


def split_name(name: str) -> tuple[str | None, str]:
    """An expat name (``namespace local`` or ``local``) as (namespace or None, local)."""
    namespace, _, local = name.rpartition(" ")
    return namespace or None, local


class Node:
    """An element as parsed: local name, namespace, attributes, children, where it was.

    Attributes keep expat's names: a plain name for the schema's attributes, ``namespace
    local`` for namespace-qualified ones (which the schema readers never look up).
    """

    __slots__ = ("attributes", "children", "counts", "has_text", "line", "local", "namespace")

    def __init__(
        self, local: str, namespace: str | None, attributes: dict[str, str], line: int
    ) -> None:
        self.local = local
        self.namespace = namespace
        self.attributes = attributes
        self.line = line
        self.children: list[tuple[str, Node]] = []  # (path, node)
        self.counts: dict[str, int] = {}
        self.has_text = False


def where(path: str, node: Node, attribute: str | None = None) -> str:
    """``path@attribute (line N)`` for messages."""
    return f"{path}{'@' + attribute if attribute else ''} (line {node.line})"


@attrs.frozen
class XmlDialect:
    """One kind of VSS document: how messages name it, its namespace, its repeated elements.

    ``subject`` is what an export writes ("writer metadata"), ``document`` what an import reads
    ("writer metadata document"). Paths in messages number the ``repeated`` elements (1-based).
    """

    subject: str
    document: str
    namespace: str
    repeated: frozenset[str]

    # -- export --------------------------------------------------------------------------
    def unrepresentable(self, message: str) -> NoReturn:
        """Refuse a value the format cannot express (``E_INVALIDARG``)."""
        raise VssError(HResult.E_INVALIDARG, f"cannot write {self.subject} as XML: {message}")

    def text(self, value: str, what: str) -> str:
        """``value`` escaped for a double-quoted attribute; refuses what XML cannot carry."""
        bad = _NOT_XML.search(value)
        if bad is not None:
            self.unrepresentable(
                f"{what} contains U+{ord(bad.group()):04X}, which XML 1.0 cannot carry: {value!r}"
            )
        return value.translate(_ESCAPES)

    # -- import --------------------------------------------------------------------------
    def invalid(self, location: str, message: str) -> NoReturn:
        """Refuse a well-formed document that is not a valid one of this kind."""
        raise VssError(
            HResult.VSS_E_INVALID_XML_DOCUMENT,
            f"not a valid {self.document}: {location}: {message}",
        )

    def _refuse_dtd(self, *_: object) -> NoReturn:
        raise VssError(
            HResult.VSS_E_INVALID_XML_DOCUMENT,
            f"refused: the document has a DOCTYPE declaration; {self.document}s never carry "
            "a DTD, and entity declarations could expand without bound (billion laughs) or "
            "read external files",
        )

    def parse(self, text: str) -> tuple[str, Node]:
        """Parse ``text`` with expat into a small tree; DTDs and entity declarations are
        refused. A leading byte order mark is ignored."""
        # The encoding override makes expat read the UTF-8 bytes of the str whatever encoding
        # the XML declaration names (VSS hands out UTF-16 BSTRs; the text is already decoded).
        parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.UnparsedEntityDeclHandler = self._refuse_dtd
        parser.ExternalEntityRefHandler = self._refuse_dtd
        stack: list[tuple[str, Node]] = []
        roots: list[tuple[str, Node]] = []
        repeated = self.repeated

        def start(name: str, attributes: dict[str, str]) -> None:
            namespace, local = split_name(name)
            node = Node(local, namespace, attributes, parser.CurrentLineNumber)
            if stack:
                parent_path, parent = stack[-1]
                count = parent.counts[local] = parent.counts.get(local, 0) + 1
                path = f"{parent_path}/{local}" + (f"[{count}]" if local in repeated else "")
                parent.children.append((path, node))
            else:
                path = local
                roots.append((path, node))
            stack.append((path, node))

        def end(_name: str) -> None:
            stack.pop()

        def characters(data: str) -> None:
            if stack and data.strip():
                stack[-1][1].has_text = True

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = characters
        try:
            parser.Parse(text.removeprefix("\ufeff").encode("utf-8", errors="surrogatepass"), True)
        except expat.ExpatError as error:
            raise VssError(
                HResult.VSS_E_CORRUPT_XML_DOCUMENT,
                f"not well-formed XML: {expat.errors.messages[error.code]} "
                f"at line {error.lineno}, column {error.offset + 1}",
            ) from None
        return roots[0]

    def check_root(self, path: str, root: Node, expected: str) -> None:
        """Refuse a root element other than ``expected`` in this dialect's namespace (or none)."""
        if root.local != expected or root.namespace not in (None, self.namespace):
            foreign = root.namespace not in (None, self.namespace)
            found = f"{{{root.namespace}}}{root.local}" if foreign else root.local
            self.invalid(
                where(path, root),
                f"the root element is <{found}>; expected <{expected}> "
                f"(in namespace {self.namespace!r} or none)",
            )

    def children(self, path: str, node: Node, allowed: frozenset[str]) -> list[tuple[str, Node]]:
        """The schema children of ``node``; anything else of the schema's namespace is refused,
        elements of other namespaces (extensions) are skipped."""
        if node.has_text:
            self.invalid(
                where(path, node), "has text content; the schema allows only elements here"
            )
        kept = []
        for child_path, child in node.children:
            if child.namespace not in (None, self.namespace):
                continue  # an extension in another namespace: not the schema's business
            if child.local not in allowed:
                expected = ", ".join(f"<{name}>" for name in sorted(allowed)) or "no child elements"
                self.invalid(
                    where(child_path, child),
                    f"unexpected element <{child.local}>; expected {expected}",
                )
            kept.append((child_path, child))
        return kept

    def single(
        self, parent: str, found: list[tuple[str, Node]], name: str
    ) -> tuple[str, Node] | None:
        """The one ``name`` element among ``found`` (None if absent); two are refused."""
        matches = [entry for entry in found if entry[1].local == name]
        if len(matches) > 1:
            self.invalid(where(*matches[1]), f"<{name}> appears {len(matches)} times in {parent}")
        return matches[0] if matches else None

    def required(self, path: str, node: Node, name: str) -> str:
        """An attribute that must be there."""
        value = node.attributes.get(name)
        if value is None:
            self.invalid(where(path, node, name), f"required attribute {name!r} is missing")
        return value

    def guid(self, path: str, node: Node, name: str) -> uuid.UUID:
        """A required GUID attribute (braces allowed, as VSS writes some)."""
        value = self.required(path, node, name)
        if not _GUID.fullmatch(value) or value.startswith("{") != value.endswith("}"):
            self.invalid(
                where(path, node, name),
                f"{value!r} is not a GUID; expected 8-4-4-4-12 hexadecimal digits "
                "such as 'a65faa63-5ea8-4ebc-9dbd-a0c4db26912a'",
            )
        return uuid.UUID(value.strip("{}"))

    def boolean(self, path: str, node: Node, name: str) -> bool:
        """A ``yes``/``no`` attribute; absent is ``no``, as VSS reads it."""
        value = node.attributes.get(name, NO)
        if value not in (YES, NO):
            self.invalid(
                where(path, node, name), f"{value!r} is not a boolean; expected 'yes' or 'no'"
            )
        return value == YES

    def choice(self, path: str, node: Node, name: str, spellings: Mapping[_E, str]) -> _E:
        """A required attribute spelled as one of ``spellings``' values."""
        value = self.required(path, node, name)
        for member, spelling in spellings.items():
            if spelling == value:
                return member
        expected = ", ".join(repr(spelling) for spelling in spellings.values())
        self.invalid(
            where(path, node, name), f"unknown value {value!r}; expected one of {expected}"
        )
