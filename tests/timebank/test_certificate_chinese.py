"""A certificate is an official document: every line it prints has Chinese wording."""
import ast
from pathlib import Path

from babel.messages.pofile import read_po

import volunteer_hub
from volunteer_hub.timebank import certificates

ROOT = Path(volunteer_hub.__file__).parent


def _printed_msgids() -> set[str]:
    """The literal texts certificates.py passes to label()/L(), which extraction cannot see."""
    tree = ast.parse((ROOT / "timebank" / "certificates.py").read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("L", "label") and node.args
            and isinstance(node.args[0], ast.Constant)}


def test_every_printed_line_has_chinese():
    catalogue = read_po((ROOT / "translations/zh_Hans/LC_MESSAGES/messages.po").open("rb"))
    msgids = _printed_msgids()
    assert len(msgids) > 10  # the parse found the labels
    untranslated = [msgid for msgid in msgids if msgid not in certificates._ZH
                    and not (catalogue.get(msgid) and catalogue.get(msgid).string)]
    assert untranslated == []
