"""The monthly report as CSV and as an HTML page (server-rendered SVG charts, no
JavaScript, a print stylesheet). Pure: a published report in, text out.

A suppressed figure (None in the JSON) reads "fewer than 5" in both; the rates per
1,000 homes read "homes not configured" when HOMES_MANAGED is unset.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from typing import Literal

from hhc_contracts.v2 import Counts, MonthlyReportPublished

Unit = Literal["count", "seconds", "share", "score", "rate"]


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: float | None
    unit: Unit = "count"
    missing: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    heading: str
    caption: str
    rows: list[Row]
    chart: bool = False


def _label(value: str) -> str:
    return value.replace("_", " ")


def _counts(counts: Counts, prefix: str = "") -> list[Row]:
    return [Row(f"{prefix}{_label(key)}", value) for key, value in counts.items()]


def sections(report: MonthlyReportPublished) -> list[Section]:
    """The report's figures, in the order the page and the CSV show them."""
    first = report.first_response
    satisfaction = report.satisfaction
    measures = report.tenant_satisfaction_measures
    no_homes = "homes not configured" if measures.homes is None else ""
    referrals = [
        row
        for partner, outcomes in report.referrals_by_partner_and_outcome.items()
        for row in _counts(outcomes, prefix=f"{_label(partner)}: ")
    ]
    return [
        Section(
            "first_response",
            "Time to first response (policy 5.2)",
            "Cases received this month and the time from report to first response",
            [
                Row("cases received", first.cases_received),
                Row("cases responded to", first.cases_responded),
                Row("median time to first response", first.median_seconds, "seconds"),
                Row("90th percentile time to first response", first.p90_seconds, "seconds"),
                Row("share responded to within 24 hours", first.share_within_24_hours, "share"),
                *(
                    Row(f"share of {_label(level)} risk cases within target", share, "share")
                    for level, share in first.share_within_target_by_risk_level.items()
                ),
                Row("actions overdue (detected this month)", report.overdue_actions),
            ],
        ),
        Section(
            "classification",
            "Cases by classification",
            "Cases received, by classification",
            _counts(report.by_classification),
            chart=True,
        ),
        Section(
            "track", "Cases by track", "Cases received, by track", _counts(report.by_track), True
        ),
        Section(
            "channel",
            "Cases by channel",
            "Cases received, by how the report came in",
            _counts(report.by_channel),
            chart=True,
        ),
        Section(
            "perceived_motivation",
            "Cases by perceived motivation",
            "Cases received, by perceived motivation (a case may have several)",
            _counts(report.by_perceived_motivation),
            chart=True,
        ),
        Section(
            "risk_level",
            "Cases by risk level",
            "Cases received, by newest risk level",
            _counts(report.by_risk_level),
            chart=True,
        ),
        Section(
            "referrals",
            "Referrals by partner and outcome",
            "Referrals made this month, by partner and where each is now",
            referrals,
            chart=True,
        ),
        Section(
            "enforcement",
            "Enforcement steps taken",
            "Enforcement steps taken this month, by step",
            _counts(report.enforcement_steps_taken),
            chart=True,
        ),
        Section(
            "closures",
            "Cases closed by reason",
            "Cases closed this month, by reason",
            _counts(report.cases_closed_by_reason),
            chart=True,
        ),
        Section(
            "satisfaction",
            "Survivor satisfaction (policy 5.1)",
            "Answers to the closure survey received this month",
            [
                Row("responses", satisfaction.responses),
                Row("mean handling score (1 to 5)", satisfaction.mean_handling_score, "score"),
                Row("share feeling safer", satisfaction.share_feeling_safer, "share"),
                *_counts(satisfaction.by_handling_score, prefix="handling score "),
            ],
        ),
        Section(
            "tenant_satisfaction_measures",
            "Tenant satisfaction measures (NM02)",
            "Anti-social behaviour cases, hate incidents included, this month",
            [
                Row("homes", measures.homes, missing="not configured"),
                Row("anti-social behaviour cases", measures.asb_cases),
                Row(
                    "anti-social behaviour cases per 1,000 homes",
                    measures.asb_cases_per_1000_homes,
                    "rate",
                    no_homes,
                ),
                Row("hate incident cases", measures.hate_incident_cases),
                Row(
                    "hate incident cases per 1,000 homes",
                    measures.hate_incident_cases_per_1000_homes,
                    "rate",
                    no_homes,
                ),
            ],
        ),
    ]


def _missing(row: Row, threshold: int) -> str:
    return row.missing or f"fewer than {threshold}"


def _raw(row: Row, threshold: int) -> str:
    if row.value is None:
        return _missing(row, threshold)
    if row.unit == "count":
        return str(int(row.value))
    return f"{row.value:.4f}".rstrip("0").rstrip(".")


def to_csv(report: MonthlyReportPublished) -> str:
    """One row per figure: section, item, value (seconds, 0..1 shares as numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "section", "item", "value"])
    month = f"{report.month:%Y-%m}"
    for section in sections(report):
        for row in section.rows:
            writer.writerow(
                [month, section.key, row.label, _raw(row, report.suppression_threshold)]
            )
    return out.getvalue()


def _shown(row: Row, threshold: int) -> str:
    if row.value is None:
        return _missing(row, threshold)
    match row.unit:
        case "count":
            return f"{int(row.value):,}"
        case "seconds":
            return f"{row.value / 3600:,.1f} hours"
        case "share":
            return f"{row.value:.0%}"
        case _:
            return f"{row.value:,.2f}"


BAR_HEIGHT = 22
LABEL_WIDTH = 260
BAR_SPACE = 300
VALUE_WIDTH = 120


def _chart(section: Section, threshold: int) -> str:
    """A horizontal bar chart of a section's counts; a suppressed count has no bar and
    says so. The table beside it holds the same figures for screen readers."""
    counts = [row.value for row in section.rows if row.value is not None]
    largest = max(counts, default=0) or 1
    width = LABEL_WIDTH + BAR_SPACE + VALUE_WIDTH
    height = BAR_HEIGHT * len(section.rows) + 4
    title_id = f"chart-{section.key}-title"
    parts = [
        f'<svg role="img" aria-labelledby="{title_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(section.caption)}: bar chart</title>',
    ]
    for index, row in enumerate(section.rows):
        y = index * BAR_HEIGHT + 2
        middle = y + BAR_HEIGHT / 2 + 5
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end">{escape(row.label)}</text>'
        )
        if row.value is not None:
            bar = max(1.0, BAR_SPACE * row.value / largest)
            parts.append(
                f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" '
                f'height="{BAR_HEIGHT - 6}"/>'
            )
            value_x = LABEL_WIDTH + bar + 6
        else:
            value_x = LABEL_WIDTH + 6
        parts.append(
            f'<text x="{value_x:.1f}" y="{middle}">{escape(_shown(row, threshold))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff;
       max-width: 60rem; margin: 0 auto; padding: 1rem; line-height: 1.5; }
h1 { font-size: 1.75rem; } h2 { font-size: 1.3rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; min-width: 28rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.25rem; }
th, td { border: 1px solid #595959; padding: 0.25rem 0.5rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
svg { max-width: 100%; height: auto; font-size: 13px; }
svg text { fill: #1a1a1a; }
svg .bar { fill: #1d4f91; }
.note { color: #3d3d3d; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section { break-inside: avoid; page-break-inside: avoid; }
  svg .bar { fill: #000; }
  a { color: #000; text-decoration: none; }
}
"""


def _rows(section: Section, threshold: int) -> Iterator[str]:
    for row in section.rows:
        yield (
            f'<tr><th scope="row">{escape(row.label)}</th>'
            f'<td class="number">{escape(_shown(row, threshold))}</td></tr>'
        )


def to_html(report: MonthlyReportPublished) -> str:
    """The report as one accessible page: a heading per section, a captioned table of
    its figures and, for breakdowns, a bar chart drawn in SVG."""
    threshold = report.suppression_threshold
    month = f"{report.month:%B %Y}"
    body = []
    for section in sections(report):
        heading_id = f"{section.key}-heading"
        table = (
            f"<table><caption>{escape(section.caption)}</caption>"
            '<thead><tr><th scope="col">Measure</th><th scope="col">Value</th></tr></thead>'
            f"<tbody>{''.join(_rows(section, threshold))}</tbody></table>"
        )
        if not section.rows:
            table = '<p class="note">None this month.</p>'
        chart = _chart(section, threshold) if section.chart and section.rows else ""
        body.append(
            f'<section aria-labelledby="{heading_id}">'
            f'<h2 id="{heading_id}">{escape(section.heading)}</h2>{chart}{table}</section>'
        )
    return (
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Harassment and hate crime: monthly report, {month}</title>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<h1>Harassment and hate crime: monthly report, {month}</h1>"
        f'<p class="note">For the Executive Management Team (policy 5.2). Counts under '
        f"{threshold}, and figures worked out from fewer than {threshold} cases, are shown "
        f'as "fewer than {threshold}" to protect the people behind them. Generated '
        f"{report.published_at:%d %B %Y %H:%M} UTC.</p>"
        f"{''.join(body)}</main></body></html>"
    )
