"""Retirement certificates (注销证明) as HTML and PDF, in Chinese or English.

A certificate shows the holder, the instrument, the quantity, every serial block retired,
the purpose, the time, the journal transaction and its hash, and a public verification link
where anyone can check it against the registry. The HTML page embeds the subset of the CJK
font it uses (as report.html does), so Chinese shows on a machine without CJK fonts; the PDF
is drawn with matplotlib in the same font (Type 3 glyphs) and carries the certificate number
and serials in its metadata.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.patches import Rectangle

from ecovalue.errors import InputError
from ecovalue.reports.fonts import new_figure
from ecovalue.reports.html import EMBEDDED_FAMILY, TEMPLATE_DIR, font_face_css

LANGUAGES = ("zh", "en")

LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {"title": "注销证明", "subtitle": "生态资源权益注销登记", "holder": "持有人",
           "instrument": "交易品种", "quantity": "注销数量", "serials": "注销序列号",
           "purpose": "注销用途", "beneficiary": "受益方", "retired_at": "注销时间（UTC）",
           "journal": "登记簿记录", "transaction": "交易序号",
           "verify": "任何人可通过以下链接核验本证明："},
    "en": {"title": "Retirement Certificate", "subtitle": "Eco-rights retirement record",
           "holder": "Holder", "instrument": "Instrument", "quantity": "Quantity retired",
           "serials": "Serial blocks", "purpose": "Purpose", "beneficiary": "Beneficiary",
           "retired_at": "Retired at (UTC)", "journal": "Journal record",
           "transaction": "transaction", "verify": "Anyone can verify this certificate at:"},
}  # fmt: skip


@dataclass(frozen=True)
class CertificateData:
    """What a certificate shows (names in the chosen language)."""

    number: str
    instrument: str
    instrument_name: str
    unit: str
    holder_code: str
    holder_name: str
    quantity: Decimal
    serials: tuple[str, ...]
    purpose: str
    beneficiary: str
    retired_at: str
    ledger_seq: int
    ledger_hash: str
    verify_url: str


def _labels(lang: str) -> Mapping[str, str]:
    if lang not in LABELS:
        raise InputError(f"language '{lang}' is not offered; choose one of {', '.join(LANGUAGES)}")
    return LABELS[lang]


def certificate_html(c: CertificateData, lang: str = "zh", embed_font: bool = True) -> str:
    """The certificate as one self-contained HTML page."""
    t = _labels(lang)
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                      undefined=StrictUndefined)  # fmt: skip
    template = env.get_template("certificate.html.j2")
    page = template.render(c=c, t=t, lang=lang, font_css="", family="sans-serif")
    if not embed_font:
        return page
    return template.render(c=c, t=t, lang=lang, font_css=font_face_css(page),
                           family=EMBEDDED_FAMILY)  # fmt: skip


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def certificate_pdf(c: CertificateData, lang: str = "zh", fmt: str = "pdf") -> bytes:
    """The certificate as a one-page A4 PDF (``fmt="png"``: the same page as an image)."""
    t = _labels(lang)
    fig = new_figure(8.27, 11.69)
    fig.set_layout_engine(None)
    fig.patches.append(Rectangle((0.05, 0.05), 0.9, 0.9, transform=fig.transFigure,
                                 fill=False, lw=3, ec="#2f6b4f"))  # fmt: skip
    fig.text(0.5, 0.89, t["title"], ha="center", size=26, color="#2f6b4f")
    fig.text(0.5, 0.855, f"{t['subtitle']} · {c.number}", ha="center", size=11, color="#5a6b60")
    rows = [(t["holder"], [f"{c.holder_name} ({c.holder_code})"]),
            (t["instrument"], _wrap(f"{c.instrument_name} ({c.instrument})", 44)),
            (t["quantity"], [f"{c.quantity} {c.unit}"]),
            (t["serials"], [s for block in c.serials for s in _wrap(block, 44)][:14]),
            (t["purpose"], _wrap(c.purpose, 40)),
            *([(t["beneficiary"], _wrap(c.beneficiary, 40))] if c.beneficiary else []),
            (t["retired_at"], [c.retired_at]),
            (t["journal"], [f"{t['transaction']} {c.ledger_seq}", *_wrap(c.ledger_hash, 44)])]  # fmt: skip
    y = 0.80
    for label, lines in rows:
        fig.text(0.1, y, label, size=11, color="#5a6b60", va="top")
        for line in lines:
            fig.text(0.38, y, line, size=11, va="top")
            y -= 0.026
        y -= 0.012
    fig.text(0.1, max(y - 0.02, 0.14), t["verify"], size=10, color="#5a6b60", va="top")
    for k, line in enumerate(_wrap(c.verify_url, 70)):
        fig.text(0.1, max(y - 0.045, 0.115) - 0.022 * k, line, size=9, color="#2f6b4f", va="top")
    buf = io.BytesIO()
    meta = {"Title": f"{t['title']} {c.number}", "Subject": f"{c.quantity} {c.unit} {c.instrument}",
            "Keywords": " ".join((c.number, *c.serials)), "Creator": "ecovalue"}  # fmt: skip
    fig.savefig(buf, format=fmt, metadata=meta if fmt == "pdf" else None, dpi=100)
    return buf.getvalue()
