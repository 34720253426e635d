"""The DOM of an HTML report, as the stdlib's html.parser reads it: elements with their attributes, the text
inside each, and the text of the <style>. Shared by the HTML report's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "col", "img", "link", "input", "hr", "wbr", "source", "area", "base", "embed", "track",
        "param", "rect", "path", "circle", "line"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Element):
                yield from c.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.walk() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}>"
        return found[0]

    def rows(self) -> list[list[str]]:
        """A table's body rows, as the text of their cells."""
        return [[td.text for td in tr.find_all("td")] for tr in self.find("tbody").find_all("tr")]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root
        self.declarations: list[str] = []
        self.comments: list[str] = []
        self.unclosed: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = [k for k, _ in attrs]
        assert len(names) == len(set(names)), f"<{tag}> repeats an attribute: {names}"
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)

    def handle_decl(self, decl):
        self.declarations.append(decl)

    def handle_comment(self, data):
        self.comments.append(data)

    def unknown_decl(self, data):
        self.declarations.append(data)

    def handle_pi(self, data):
        self.declarations.append(data)


@dataclass
class Dom:
    root: Element
    declarations: list[str]
    comments: list[str]

    def find(self, *a, **kw) -> Element:
        return self.root.find(*a, **kw)

    def find_all(self, *a, **kw) -> list[Element]:
        return self.root.find_all(*a, **kw)

    @property
    def elements(self) -> list[Element]:
        return list(self.root.walk())[1:]

    def shape(self) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
        """Every element's tag and attributes, in document order: what markup the page is made of."""
        return [(e.tag, tuple(sorted(e.attrs.items()))) for e in self.elements]


def parse(text: str) -> Dom:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return Dom(builder.root, builder.declarations, builder.comments)
