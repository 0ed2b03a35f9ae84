"""Read back what reportlab drew: enough of PDF to test our own documents without a PDF library.

Objects are found by regex, streams inflated (Flate, optionally inside ASCII85), and each
``(...) Tj`` decoded through the current font's ToUnicode map (the embedded TrueType subsets
write one), or as Latin-1 for the standard fonts.
"""
from __future__ import annotations

import base64
import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_STREAM = re.compile(rb"^(.*?)stream\r?\n(.*?)\r?\n?endstream", re.S)
_SHOW = re.compile(rb"/(\S+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_SIMPLE_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (dictionary text, decoded stream or None)."""
    found = {}
    for match in _OBJECT.finditer(pdf):
        body = match.group(2)
        stream = _STREAM.match(body)
        if stream:
            found[int(match.group(1))] = (stream.group(1), _decode(stream.group(1),
                                                                  stream.group(2)))
        else:
            found[int(match.group(1))] = (body, None)
    return found


def _decode(head: bytes, data: bytes) -> bytes:
    if b"ASCII85Decode" in head:
        data = base64.a85decode(data.strip().removeprefix(b"<~").removesuffix(b"~>"))
    if b"FlateDecode" in head:
        data = zlib.decompress(data)
    return data


def _to_unicode_maps(found) -> dict[bytes, dict[int, str]]:
    """Font resource name (``F2+0``) -> byte code -> text, from each font's ToUnicode CMap."""
    maps = {}
    for head, _stream in found.values():
        name = re.search(rb"/Name /(\S+)", head)
        reference = re.search(rb"/ToUnicode (\d+) 0 R", head)
        if name and reference:
            cmap = found[int(reference.group(1))][1] or b""
            maps[name.group(1)] = {
                int(code, 16): chr(int(text, 16))  # reportlab writes the code point
                for code, text in re.findall(rb"<([0-9A-Fa-f]{2})> <([0-9A-Fa-f]+)>", cmap)}
    return maps


def _unescape(literal: bytes) -> bytes:
    def one(match):
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8)])
        return _SIMPLE_ESCAPES.get(escaped, escaped)
    return _ESCAPE.sub(one, literal)


def drawn_text(pdf: bytes) -> str:
    """Every shown string of every content stream, one per line, in drawing order."""
    found = objects(pdf)
    maps = _to_unicode_maps(found)
    lines = []
    for head, stream in found.values():
        if stream is None or b"Tj" not in stream or b"/Subtype" in head:
            continue
        font_map = None
        for font, literal in _SHOW.findall(stream):
            if font:
                font_map = maps.get(font)
                continue
            raw = _unescape(literal)
            lines.append("".join(font_map.get(b, "\ufffd") for b in raw) if font_map
                         else raw.decode("latin-1"))
    return "\n".join(lines)
