"""Message kinds: what a message is about, named once for every templated channel.

Chinese SMS providers (and WeChat's template messages) send only texts approved in advance:
a fixed wording with named parameters. Each outbox message belongs to one kind, found from
its event key; the kind names its parameters, their order (Tencent Cloud takes a list), and
the wording to register with the provider in each language. The parameters are taken from
the message as the dispatcher hands it over (subject, text, the outbox id for the short
link), so sending needs no database and no feature has to store anything more.

The one-tap link cannot be a parameter (providers refuse links in variables): the approved
wording carries the site's address and a short `code` parameter, `<site>/s/<code>`, which
opens the message's own link (sms.links, sms.views).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

# Providers count a Chinese character as one; notice templates allow 20 to 35 characters a
# variable (Alibaba Cloud 35, Huawei 20): 20 fits everywhere.
DEFAULT_PARAM_MAX_CHARS = 20
# A reply's text (help or confirmation) is cut last: Alibaba Cloud's limit for a notice.
TEXT_PARAM_MAX_CHARS = 35
LOCALES = ("zh_Hans", "en")
_URL = re.compile(r"https?://\S+")
# Carriers refuse these in a variable: 【】 looks like a signature, a link must be fixed text.
_FORBIDDEN = re.compile(r"[【】\[\]{}<>]")


@dataclass(frozen=True)
class MessageKind:
    """One kind: its event-key pattern, its parameters in template order, its wording."""

    name: str
    pattern: str  # a regular expression matched at the start of the event key
    params: tuple[str, ...]
    wording: str  # lazy English msgid; ${param} where a parameter goes

    def matches(self, event_key: str) -> bool:
        return re.match(self.pattern, event_key or "") is not None

    def text(self, locale: str) -> str:
        """The wording to register with a provider, in `locale` (zh_Hans or en)."""
        with force_locale(locale):
            return str(self.wording)

    def values(self, *, subject: str, body: str, code: str,
               max_chars: int = DEFAULT_PARAM_MAX_CHARS) -> dict[str, str]:
        """The named parameters of one message, in template order."""
        found = {"title": _title(subject, body, max_chars), "code": code,
                 "text": _shortened(_plain(body), max(max_chars, TEXT_PARAM_MAX_CHARS))}
        return {name: found[name] for name in self.params}


# Wordings (English msgids; Chinese in the catalogue) are what a deployer registers, with
# the site's address where <site> stands.
KINDS: tuple[MessageKind, ...] = (
    MessageKind("callout", r"emergency:\d+:alert:", ("title", "code"),
                _l('Emergency call-out: ${title}. Answer at <site>/s/${code} or reply "1 30" '
                   '(coming, 30 minutes away) or "2" (cannot come).')),
    MessageKind("stand_down", r"emergency:\d+:stand_down$", ("title",),
                _l("${title}: the call-out is stood down. Thank you for answering.")),
    MessageKind("assigned", r"emergency:\d+:assigned:", ("code",),
                _l("You have an emergency role. Role and assembly point: <site>/s/${code}")),
    MessageKind("unassigned", r"emergency:\d+:unassigned:", ("code",),
                _l("Your emergency role was changed. Please stand by; details: "
                   "<site>/s/${code}")),
    MessageKind("wellbeing", r"emergency:\d+:wellbeing:", ("code",),
                _l("Please check on people in the affected area: <site>/s/${code}")),
    MessageKind("coordinator_page", r"emergency:\d+:page:", ("title", "code"),
                _l("${title}: roles are still short. See <site>/s/${code}")),
    MessageKind("sms_reply", r"sms-reply:", ("text",),
                _l("Your reply was received: ${text}")),
    MessageKind("task_notice", r"match:", ("title", "code"),
                _l("Task notice: ${title}. Details: <site>/s/${code}")),
    MessageKind("reminder", r"records:", ("title", "code"),
                _l("Reminder: ${title}. Details: <site>/s/${code}")),
    # Last: every other message, so that nothing is left without an approved template.
    MessageKind("notice", r"", ("title", "code"),
                _l("New notice: ${title}. Details: <site>/s/${code}")),
)
KIND_NAMES = tuple(kind.name for kind in KINDS)


def kind_for(event_key: str) -> MessageKind:
    """The kind of a message by its event key (the catch-all `notice` when none other)."""
    return next(kind for kind in KINDS if kind.matches(event_key))


def by_name(name: str) -> MessageKind | None:
    return next((kind for kind in KINDS if kind.name == name), None)


def _plain(text: str) -> str:
    text = _FORBIDDEN.sub("", _URL.sub("", text or ""))
    return " ".join(text.split())


def _shortened(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars - 1].rstrip() + "…"


def _title(subject: str, body: str, max_chars: int) -> str:
    """The subject, else the text's first sentence, within the providers' variable length."""
    title = _plain(subject)
    if not title:
        first = re.split(r"(?<=[。！？.!?])\s*|\n", (body or "").strip(), maxsplit=1)[0]
        title = _plain(first).rstrip("。.：:，,")
    return _shortened(title, max_chars) or "-"
