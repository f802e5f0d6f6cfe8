"""Safe reading and deterministic writing of VSS's XML documents (shared, private).

Writer Metadata Documents and Backup Components Documents are both attribute-only XML in a
default ``x-schema:#...`` namespace. An :class:`XmlDialect` holds what differs between them (the
document's name in messages, its namespace, which elements repeat); everything else is one
piece of code: expat parsing with DTDs and entity declarations refused, a small element tree
that remembers where each element was, and the checks that turn a bad document into a
``VssError`` naming the element path, attribute and line.

Hostile input is refused in bounded time and memory: :class:`XmlLimits` (size, nesting,
element count, attributes, name and text length) are checked in expat's callbacks as the
document is read, so a refusal comes as soon as a limit is passed, and the tree costs memory in
proportion to the document (a node knows its parent, not its path). Values and paths in
messages are cut, so every message is one short line.

Malformed text (including invalid UTF-8, NUL characters, a lone surrogate in a ``str``) is
``VSS_E_CORRUPT_XML_DOCUMENT``; well-formed text that is not the expected document, or passes
a limit, is ``VSS_E_INVALID_XML_DOCUMENT``; input that is not text at all (None, a number...)
is ``E_INVALIDARG``, and so is a value the format cannot carry, on export.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from types import MappingProxyType
from typing import NoReturn, TypeVar
from xml.parsers import expat
from xml.parsers.expat import XMLParserType

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


_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
#: Longest element path, and longest value, a message shows (the rest is elided).
_SHOWN_PATH = 240
_SHOWN_VALUE = 60


def clip(text: str, limit: int = _SHOWN_VALUE) -> str:
    """``text`` cut to ``limit`` characters for a one-line message (the middle elided)."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    return f"{text[:head]}...{text[len(text) - (limit - head - 3) :]}"


def shown(value: str) -> str:
    """An attribute value as a message quotes it: ``repr`` (so one line), long ones cut."""
    if len(value) <= _SHOWN_VALUE:
        return repr(value)
    return f"{value[:_SHOWN_VALUE]!r}... ({len(value)} characters)"


def _positive(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VssError(
            HResult.E_INVALIDARG,
            f"XmlLimits.{attribute.name} must be a positive integer, not {value!r}",
        )


@attrs.frozen
class XmlLimits:
    """How big a document the readers accept; past a limit the document is refused with
    ``VSS_E_INVALID_XML_DOCUMENT``, naming the limit and where it was passed.

    The limits are checked while expat reads (so a hostile document is refused as soon as it
    passes one, and memory stays proportional to the input) and are generous for real
    documents: a SQL Server writer with a thousand databases writes a few thousand elements
    four deep, in well under a megabyte.

    - ``document_bytes``: size of the document (its UTF-8 encoding for a ``str``);
    - ``depth``: element nesting (VSS's own documents nest at most about eight deep);
    - ``elements``: elements in the whole document, extensions included;
    - ``attributes``: attributes of one element;
    - ``attribute_length``: characters of one attribute value (after entity expansion);
    - ``name_length``: characters of an element or attribute name, namespace included;
    - ``text_length``: characters of text in one element, whitespace between elements aside.
    """

    document_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=_positive)
    depth: int = attrs.field(default=64, validator=_positive)
    elements: int = attrs.field(default=100_000, validator=_positive)
    attributes: int = attrs.field(default=256, validator=_positive)
    attribute_length: int = attrs.field(default=1024 * 1024, validator=_positive)
    name_length: int = attrs.field(default=1024, validator=_positive)
    text_length: int = attrs.field(default=64 * 1024, validator=_positive)


#: The limits the readers apply unless told otherwise.
DEFAULT_LIMITS = XmlLimits()


class Node:
    """An element as parsed: local name, namespace, attributes, children, where it was.

    Attributes keep expat's names: a plain name for the schema's attributes, ``namespace
    local`` for namespace-qualified ones (which the schema readers never look up). A node
    knows its parent, not its path: the path (for messages) is built only when asked for,
    so the tree costs memory in proportion to the document, however deep it nests.
    """

    __slots__ = (
        "attributes",
        "children",
        "counts",
        "has_text",
        "index",
        "line",
        "local",
        "namespace",
        "parent",
        "text_length",
    )

    def __init__(
        self,
        local: str,
        namespace: str | None,
        attributes: Mapping[str, str],
        line: int,
        parent: Node | None,
        repeated: frozenset[str],
    ) -> None:
        self.local = local
        self.namespace = namespace
        self.attributes = attributes
        self.line = line
        self.parent = parent
        self.children: Sequence[Node] = ()  # a list once the element has a child
        self.counts: dict[str, int] | None = None  # per child name, while the element is open
        self.has_text = False
        self.text_length = 0
        self.index = 0  # 1-based among same-named siblings for repeated elements, else 0
        if parent is not None:
            if local in repeated:
                counts = parent.counts = parent.counts or {}
                self.index = counts[local] = counts.get(local, 0) + 1
            if isinstance(parent.children, list):
                parent.children.append(self)
            else:
                parent.children = [self]

    @property
    def path(self) -> str:
        """``ROOT/CHILD[2]/...``: local names from the root, repeated elements numbered."""
        parts: list[str] = []
        node: Node | None = self
        while node is not None:
            parts.append(f"{node.local}[{node.index}]" if node.index else node.local)
            node = node.parent
        return "/".join(reversed(parts))


def where(node: Node, attribute: str | None = None) -> str:
    """``path@attribute (line N)`` for messages (a very long path is elided in the middle)."""
    suffix = f"@{clip(attribute)}" if attribute else ""
    return f"{clip(node.path, _SHOWN_PATH)}{suffix} (line {node.line})"


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

    def too_big(self, location: str, message: str, limit: str) -> NoReturn:
        """Refuse a document past one of its :class:`XmlLimits` (named in the message)."""
        self.invalid(location, f"{message} (XmlLimits.{limit})")

    def _refuse_dtd(self, *_: object) -> NoReturn:
        raise VssError(
            HResult.VSS_E_INVALID_XML_DOCUMENT,
            f"refused: the document has a DOCTYPE declaration; {self.document}s never carry "
            "a DTD, and entity declarations could expand without bound (billion laughs) or "
            "read external files",
        )

    def _encoded(self, text: object, limits: XmlLimits) -> tuple[bytes, str]:
        """The document's bytes and the encoding expat is to read them in.

        A ``str`` is read as its UTF-8 encoding, whatever its XML declaration names (VSS hands
        out UTF-16 BSTRs: the text is already decoded). ``bytes`` are UTF-16 when they start
        with a UTF-16 byte order mark or a UTF-16 ``<``, else UTF-8: the two encodings VSS and
        the tools around it write these documents in. The declaration's encoding is not
        followed, so no codec is looked up by a name the document chooses.
        """
        size_limit = limits.document_bytes
        if isinstance(text, str):
            if len(text) > size_limit:  # each character is at least one byte
                self.too_big(
                    "the document",
                    f"{len(text)} characters exceed the size limit of {size_limit} bytes",
                    "document_bytes",
                )
            data = text.removeprefix("\ufeff").encode("utf-8", errors="surrogatepass")
            encoding = "UTF-8"
        elif isinstance(text, bytes | bytearray):
            data = bytes(text)
            if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
                encoding = "UTF-16"
            elif data[:2] == b"<\x00":
                encoding = "UTF-16LE"
            elif data[:2] == b"\x00<":
                encoding = "UTF-16BE"
            else:
                encoding = "UTF-8"
        else:
            raise VssError(
                HResult.E_INVALIDARG,
                f"the {self.document} must be XML text (str, or bytes in UTF-8 or UTF-16), "
                f"not {type(text).__name__}",
            )
        if len(data) > size_limit:
            self.too_big(
                "the document",
                f"{len(data)} bytes exceed the size limit of {size_limit} bytes",
                "document_bytes",
            )
        return data, encoding

    def parse(self, text: object, limits: XmlLimits = DEFAULT_LIMITS) -> Node:
        """Parse ``text`` (``str`` or ``bytes``) with expat into a small tree, within
        ``limits``; DTDs and entity declarations are refused. A leading byte order mark is
        ignored. Not ``str`` or ``bytes`` is ``E_INVALIDARG``."""
        data, encoding = self._encoded(text, limits)
        parser = expat.ParserCreate(encoding=encoding, namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.UnparsedEntityDeclHandler = self._refuse_dtd
        parser.ExternalEntityRefHandler = self._refuse_dtd
        builder = _TreeBuilder(self, limits, parser)
        parser.StartElementHandler = builder.start
        parser.EndElementHandler = builder.end
        parser.CharacterDataHandler = builder.characters
        try:
            parser.Parse(data, True)
        except expat.ExpatError as error:
            raise VssError(
                HResult.VSS_E_CORRUPT_XML_DOCUMENT,
                f"not well-formed XML: {expat.errors.messages[error.code]} "
                f"at line {error.lineno}, column {error.offset + 1}",
            ) from None
        assert builder.root is not None  # expat refuses a document without an element
        return builder.root

    def check_root(self, root: Node, expected: str) -> None:
        """Refuse a root element other than ``expected`` in this dialect's namespace (or none)."""
        if root.local != expected or root.namespace not in (None, self.namespace):
            foreign = root.namespace not in (None, self.namespace)
            found = f"{{{root.namespace}}}{root.local}" if foreign else root.local
            self.invalid(
                where(root),
                f"the root element is <{clip(found)}>; expected <{expected}> "
                f"(in namespace {self.namespace!r} or none)",
            )

    def children(self, node: Node, allowed: frozenset[str]) -> list[Node]:
        """The schema children of ``node``; anything else of the schema's namespace is refused,
        elements of other namespaces (extensions) are skipped."""
        if node.has_text:
            self.invalid(where(node), "has text content; the schema allows only elements here")
        kept = []
        for child in node.children:
            if child.namespace not in (None, self.namespace):
                continue  # an extension in another namespace: not the schema's business
            if child.local not in allowed:
                expected = ", ".join(f"<{name}>" for name in sorted(allowed)) or "no child elements"
                self.invalid(
                    where(child), f"unexpected element <{clip(child.local)}>; expected {expected}"
                )
            kept.append(child)
        return kept

    def single(self, parent: Node, found: list[Node], name: str) -> Node | None:
        """The one ``name`` element among ``found`` (None if absent); two are refused."""
        matches = [node for node in found if node.local == name]
        if len(matches) > 1:
            self.invalid(
                where(matches[1]),
                f"<{name}> appears {len(matches)} times in {clip(parent.path, _SHOWN_PATH)}",
            )
        return matches[0] if matches else None

    def required(self, node: Node, name: str) -> str:
        """An attribute that must be there."""
        value = node.attributes.get(name)
        if value is None:
            self.invalid(where(node, name), f"required attribute {name!r} is missing")
        return value

    def guid(self, node: Node, name: str) -> uuid.UUID:
        """A required GUID attribute (braces allowed, as VSS writes some)."""
        value = self.required(node, name)
        if not _GUID.fullmatch(value) or value.startswith("{") != value.endswith("}"):
            self.invalid(
                where(node, name),
                f"{shown(value)} is not a GUID; expected 8-4-4-4-12 hexadecimal digits "
                "such as 'a65faa63-5ea8-4ebc-9dbd-a0c4db26912a'",
            )
        return uuid.UUID(value.strip("{}"))

    def boolean(self, node: Node, name: str) -> bool:
        """A ``yes``/``no`` attribute; absent is ``no``, as VSS reads it."""
        value = node.attributes.get(name, NO)
        if value not in (YES, NO):
            self.invalid(
                where(node, name), f"{shown(value)} is not a boolean; expected 'yes' or 'no'"
            )
        return value == YES

    def choice(self, node: Node, name: str, spellings: Mapping[_E, str]) -> _E:
        """A required attribute spelled as one of ``spellings``' values."""
        value = self.required(node, name)
        for member, spelling in spellings.items():
            if spelling == value:
                return member
        expected = ", ".join(repr(spelling) for spelling in spellings.values())
        self.invalid(where(node, name), f"unknown value {shown(value)}; expected one of {expected}")


class _TreeBuilder:
    """expat's callbacks: build the :class:`Node` tree, refusing each limit as it is passed."""

    def __init__(self, dialect: XmlDialect, limits: XmlLimits, parser: XMLParserType) -> None:
        self.dialect = dialect
        self.limits = limits
        self.parser = parser
        self.stack: list[Node] = []
        self.root: Node | None = None
        self.elements = 0
        self.names: dict[str, tuple[str | None, str]] = {}  # expat name -> (namespace, local)

    def start(self, name: str, attributes: dict[str, str]) -> None:
        limits, too_big = self.limits, self.dialect.too_big
        parent = self.stack[-1] if self.stack else None
        names = self.names.get(name)
        if names is None:
            names = self.names[name] = split_name(name)
        namespace, local = names
        line = self.parser.CurrentLineNumber
        kept = attributes or _NO_ATTRIBUTES  # most elements have none: share one empty mapping
        node = Node(local, namespace, kept, line, parent, self.dialect.repeated)
        if len(name) > limits.name_length:
            too_big(
                where(node),
                f"an element name of {len(name)} characters; the limit is {limits.name_length}",
                "name_length",
            )
        if len(self.stack) >= limits.depth:
            too_big(
                where(node),
                f"elements nest more than {limits.depth} deep, the nesting limit",
                "depth",
            )
        self.elements += 1
        if self.elements > limits.elements:
            too_big(
                where(node),
                f"more than {limits.elements} elements, the limit for one document",
                "elements",
            )
        if len(attributes) > limits.attributes:
            too_big(
                where(node),
                f"{len(attributes)} attributes; the limit is {limits.attributes} per element",
                "attributes",
            )
        for key, value in attributes.items():
            if len(key) > limits.name_length:
                too_big(
                    where(node, key),
                    f"an attribute name of {len(key)} characters; "
                    f"the limit is {limits.name_length}",
                    "name_length",
                )
            if len(value) > limits.attribute_length:
                too_big(
                    where(node, key),
                    f"a value of {len(value)} characters; the limit is {limits.attribute_length}",
                    "attribute_length",
                )
        if parent is None:
            self.root = node
        self.stack.append(node)

    def end(self, _name: str) -> None:
        self.stack.pop().counts = None

    def characters(self, data: str) -> None:
        if not self.stack or not data.strip(" \t\r\n"):
            return  # whitespace between elements (expat reports text in lines or pieces)
        node = self.stack[-1]
        node.has_text = True
        node.text_length += len(data)
        if node.text_length > self.limits.text_length:
            self.dialect.too_big(
                f"{clip(node.path, _SHOWN_PATH)} (line {self.parser.CurrentLineNumber})",
                f"more than {self.limits.text_length} characters of text in one element",
                "text_length",
            )
