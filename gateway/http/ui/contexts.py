"""How an alert's images and links are shown: only what is safe to load or follow.

An event keeps every image and link exactly as its sender wrote it: an ``http://``
Grafana screenshot is part of the alert, not a reason to refuse it (an answer of
400 loses the alert for good). The page decides how to show each one:

- an image whose ``src`` is an ``https:`` URL is shown inline (the UI's
  Content-Security-Policy allows ``https:`` images, nothing else from elsewhere);
- an image on plain ``http:`` is a link to it (no mixed content, no inline load);
- a link is followable only when its ``href`` is ``http:`` or ``https:``;
- anything else (``javascript:``, ``data:``, a relative or garbled URL) is shown
  as text, never as a link or an image source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.http.ui._web import blueprint


def web_scheme(url: str) -> Literal["https", "http"] | None:
    """``https`` or ``http`` when a browser takes ``url`` as such an absolute URL, else ``None``.

    The URL must *begin* with the scheme: a browser strips leading spaces and control
    characters and drops tabs and newlines anywhere, so ``" javascript:…"`` or
    ``"java\\tscript:…"`` must not be judged by a looser reading than the browser's.
    Beginning exactly with ``http://`` leaves the browser nothing to reinterpret.
    """
    head = url[:8].lower()
    if head.startswith("https://"):
        return "https"
    if head.startswith("http://"):
        return "http"
    return None


@dataclass(frozen=True, slots=True)
class Shown:
    """One image or link as the incident page shows it.

    ``kind`` is ``image`` (inline, ``url`` is its https ``src``; ``target`` its
    link when that is a web URL too), ``link`` (a plain link to ``url``) or
    ``text`` (``url`` shown as text only). ``label`` is the text to show.
    """

    kind: Literal["image", "link", "text"]
    url: str
    label: str
    target: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _image(item: Mapping[str, Any]) -> Shown | None:
    src = item.get("src")
    if not isinstance(src, str):
        return None
    alt = _text(item.get("alt"))
    scheme = web_scheme(src)
    if scheme == "https":
        href = _text(item.get("href"))
        target = href if href is not None and web_scheme(href) else None
        return Shown("image", src, alt or "Image", target)
    if scheme == "http":
        return Shown("link", src, f"Image: {alt or src}")
    return Shown("text", src, f"Image{': ' + alt if alt else ''} (not a web address)")


def _link(item: Mapping[str, Any]) -> Shown | None:
    href = item.get("href")
    if not isinstance(href, str):
        return None
    text = _text(item.get("text"))
    if web_scheme(href):
        return Shown("link", href, text or href)
    return Shown("text", href, f"{text or 'Link'} (not a web address)")


@blueprint.app_template_global("alert_contexts")
def alert_contexts(body: Any) -> list[Shown]:
    """The images and links of a stored alert body (its PD-CEF event), ready to show.

    Images come first, then links, each in the order the event listed them. A body
    from an older version or a plugin may lack either list or hold odd entries:
    those are skipped, never an error on the page.
    """
    if not isinstance(body, Mapping):
        return []
    shown: list[Shown | None] = []
    for key, build in (("images", _image), ("links", _link)):
        items = body.get(key)
        if isinstance(items, list):
            shown.extend(build(item) for item in items if isinstance(item, Mapping))
    return [s for s in shown if s is not None]
