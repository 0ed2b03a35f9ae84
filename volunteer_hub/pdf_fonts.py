"""The fonts every PDF writer uses (certificate, after-action report): one choice, one place.

Chinese text is set in WenQuanYi Micro Hei (文泉驿微米黑; Apache License 2.0, which allows
embedding), shipped by the PyPI package ``paperang-p2-fonts-cjk`` (a dependency, 2.3 MB). It
has TrueType outlines, so reportlab embeds it as a subset (only the glyphs used, with a
ToUnicode map so the text can be copied and searched); a non-embedded CID font such as
STSong-Light shows as boxes in readers without Asian font packs, and Noto CJK's CFF outlines
cannot be embedded by reportlab.
Latin-only strings stay in the standard Helvetica, which every reader has.
"""
from __future__ import annotations

from importlib.resources import files

CJK_FONT = "WenQuanYiMicroHei"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"

_CJK_FONT_PACKAGE = "paperang_p2_fonts_cjk"
_CJK_FONT_FILE = ("fonts", "wqy-microhei.ttc")
_CJK_FONT_INDEX = 0  # Micro Hei (index 1 is its monospaced twin)


def cjk_font_path() -> str:
    return str(files(_CJK_FONT_PACKAGE).joinpath(*_CJK_FONT_FILE))


def register_fonts() -> None:
    """Make CJK_FONT known to reportlab (once per process; reading the file takes a moment)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(CJK_FONT, cjk_font_path(), subfontIndex=_CJK_FONT_INDEX))


def font_for(text: str, bold: bool = False) -> str:
    """Helvetica for Latin-only text, the embedded CJK font for anything else."""
    if text.isascii():
        return LATIN_BOLD if bold else LATIN_FONT
    return CJK_FONT
