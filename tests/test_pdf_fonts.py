"""The PDFs carry their Chinese font (issue 13, item 7): a reader without Asian font packs
shows the report's and the certificate's Chinese words, not boxes, and the text copies out."""
from __future__ import annotations

from flask_babel import force_locale

from tests.emergency.conftest import world  # noqa: F401
from tests.emergency.test_report import scene  # noqa: F401
from tests.pdf_text import drawn_text
from tests.timebank.test_certificates import _pdf, earned  # noqa: F401
from volunteer_hub.emergency import report
from volunteer_hub.pdf_fonts import CJK_FONT

FULL_FONT_BYTES = 5_000_000  # the .ttc file; the PDF embeds only the glyphs it uses


def _embeds_the_cjk_font(pdf: bytes) -> bool:
    return b"/FontFile2" in pdf and f"+{CJK_FONT}".encode() in pdf


def _reads(pdf: bytes) -> str:
    return drawn_text(pdf).replace("\n", "")


def test_report_pdf_embeds_its_chinese_font_and_its_header_reads_back(scene):  # noqa: F811
    with force_locale("zh_Hans"):
        exported = report.after_action(scene.activation)
        title = report._title(exported)
        pdf = report.to_pdf(exported)
    assert "行动" in title or "报告" in title  # the header is Chinese
    assert _embeds_the_cjk_font(pdf)
    assert b"STSong-Light" not in pdf  # a font the reader would have to supply
    assert title in _reads(pdf)
    assert len(pdf) < FULL_FONT_BYTES / 10  # subset, not the whole font


def test_certificate_pdf_embeds_its_chinese_font(client, earned, auth_header):  # noqa: F811
    volunteer = earned["volunteer"]
    pdf = _pdf(client, auth_header, volunteer.user, volunteer)
    assert _embeds_the_cjk_font(pdf)
    assert "志愿服务记录证明" in _reads(pdf)
    assert "李小梅" in _reads(pdf)
