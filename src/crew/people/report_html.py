"""`crew report --html FILE`: the report as one self-contained page (opens offline, no CDN).

The charts are drawn by matplotlib (the `report` extra) as inline SVG: a maintained library
rather than hand-written SVG, no JavaScript, nothing fetched. matplotlib is imported here only,
inside the functions that draw, so no other command pays for it. `render_html` returns the page
(`crew serve` can send the same), `write_html` writes it.

Charts: a calibration (reliability) diagram per role (per confidence band, the share of judged
outputs people kept unchanged, against the diagonal a perfectly calibrated role would follow),
the lead time per playbook split into AI working and waiting on people (means per run), and the
time to decide per person (median and p90).
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.exceptions import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from crew.people.report import Report

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{padding:.3rem .7rem;text-align:right;border-bottom:1px solid #eaeef2}
th:first-child,td:first-child{text-align:left}
.muted{color:#656d76}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.chart svg{max-width:100%;height:auto}
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}
"""


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(
            "crew report --html draws its charts with matplotlib, which is not installed",
            hint='pip install "crew[report]"',
        ) from None
    return Figure(figsize=(width, height), dpi=96, layout="constrained")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prologue or DOCTYPE inside the page


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{round(100 * rate)}%"


def calibration_chart(role: dict[str, Any]) -> str:
    """A reliability diagram of one role: kept share per confidence band, bars of outputs."""
    figure = _figure(4.2, 3.2)
    axes = figure.subplots()
    xs, ys, sizes = [], [], []
    for band in role["calibration"]:
        low = float(band["band"].split("-")[0])
        judged = band["kept"] + band["changed"]
        if judged:
            xs.append(low + 0.05)
            ys.append(band["kept"] / judged)
            sizes.append(judged)
    counts = [b["executions"] for b in role["calibration"]]
    twin = axes.twinx()
    twin.bar([i / 10 + 0.05 for i in range(10)], counts, width=0.09, color="#d0d7de", zorder=0)
    twin.set_ylabel("outputs", color="#656d76")
    axes.set_zorder(twin.get_zorder() + 1)
    axes.patch.set_visible(False)
    axes.plot([0, 1], [0, 1], linestyle="--", color="#8c959f", linewidth=1, label="calibrated")
    axes.plot(xs, ys, marker="o", color="#0969da", label="kept unchanged")
    for x, y, n in zip(xs, ys, sizes, strict=True):
        axes.annotate(
            str(n),
            (x, y),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
            color="#0969da",
        )
    if role.get("threshold") is not None:
        axes.axvline(role["threshold"], color="#cf222e", linewidth=1, label="threshold")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.08)
    axes.set_xlabel("confidence")
    axes.set_ylabel("share kept unchanged")
    axes.set_title(role["role"], fontsize=11)
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    return _svg(figure)


def lead_time_chart(playbooks: list[dict[str, Any]]) -> str:
    """Mean lead time per run of each playbook: AI working and waiting on people, stacked."""
    figure = _figure(7.0, 1.2 + 0.5 * max(1, len(playbooks)))
    axes = figure.subplots()
    names = [p["playbook"] for p in playbooks]
    waiting = [
        p["waiting_on_people_total"] / p["total"] / 3600 if p["total"] else 0 for p in playbooks
    ]
    lead = [p["lead_time_total"] / p["total"] / 3600 if p["total"] else 0 for p in playbooks]
    working = [max(0.0, t - w) for t, w in zip(lead, waiting, strict=True)]
    axes.barh(names, working, color="#0969da", label="AI working (and queues)")
    axes.barh(names, waiting, left=working, color="#bf8700", label="waiting on people")
    axes.set_xlabel("hours per run (mean)")
    axes.invert_yaxis()
    figure.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return _svg(figure)


def time_to_decide_chart(people: list[dict[str, Any]]) -> str:
    """Median and p90 time to decide of each person, in hours."""
    figure = _figure(7.0, 0.6 + 0.5 * max(1, len(people)))
    axes = figure.subplots()
    names = [p["person"] for p in people]
    median = [(p["time_to_decide"]["median"] or 0) / 3600 for p in people]
    p90 = [(p["time_to_decide"]["p90"] or 0) / 3600 for p in people]
    rows = range(len(names))
    axes.barh([r + 0.2 for r in rows], p90, height=0.4, color="#8c959f", label="p90")
    axes.barh([r - 0.2 for r in rows], median, height=0.4, color="#1a7f37", label="median")
    axes.set_yticks(list(rows), names)
    axes.invert_yaxis()
    axes.set_xlabel("hours to decide")
    axes.legend(loc="lower right", fontsize=8, frameon=False)
    return _svg(figure)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def render_html(report: Report, *, title: str = "crew report") -> str:
    """The whole page: tables and charts, one string with nothing to fetch."""
    data = report.to_json()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>{html.escape((data['since'] or '')[:10])} → "
        f"{html.escape((data['until'] or '')[:10])}, from roll-ups of {data['days']} days.</p>",
    ]
    if report.empty:
        parts.append("<p>No runs yet in this period.</p>")
    if report.roles:
        parts.append("<h2>Roles</h2>")
        parts.append(
            _table(
                [
                    "role",
                    "executions",
                    "at once",
                    "escalated",
                    "escalated because",
                    "threshold",
                    "tokens/execution",
                    "$/execution",
                    "$/accepted",
                ],
                [
                    [
                        r["role"],
                        str(r["executions"]),
                        _percent(r["accepted_at_once_rate"]),
                        _percent(r["escalated_rate"]),
                        _kinds(r["escalated_by"]) or "-",
                        "-" if r["threshold"] is None else f"{r['threshold']:g}",
                        "-"
                        if r["tokens_per_execution"] is None
                        else f"{r['tokens_per_execution']:.0f}",
                        "-"
                        if r["cost_per_execution"] is None
                        else f"${r['cost_per_execution']:.4f}",
                        "-" if r["cost_per_accepted"] is None else f"${r['cost_per_accepted']:.4f}",
                    ]
                    for r in report.roles
                ],
            )
        )
        parts.append(
            _table(
                ["role", "its outputs", "approve", "edit", "retry", "reject"],
                [
                    [
                        r["role"],
                        where,
                        *(str(counts.get(k, 0)) for k in ("approve", "edit", "retry", "reject")),
                    ]
                    for r in report.roles
                    for where, counts in (
                        ("escalated", r["escalation_decisions"]),
                        ("at checkpoints", r["checkpoint_decisions"]),
                    )
                    if counts
                ],
            )
        )
        parts.append(
            "<h2>Calibration</h2><p class='muted'>Per confidence band, the share of the "
            "outputs people judged that they kept unchanged (numbers: how many were "
            "judged; grey bars: all outputs). A calibrated role follows the diagonal."
            "</p><div class='charts'>"
        )
        for role in report.roles:
            parts.append(f"<div class='chart'>{calibration_chart(role)}</div>")
        parts.append("</div>")
    if report.suggestions:
        parts.append("<h2>Suggested changes</h2><ul>")
        for s in report.suggestions:
            parts.append(f"<li><code>{html.escape(s.line)}</code></li>")
        parts.append("</ul>")
    if report.playbooks:
        parts.append("<h2>Playbooks: where the time goes</h2>")
        parts.append(f"<div class='chart'>{lead_time_chart(report.playbooks)}</div>")
        parts.append(
            _table(
                [
                    "playbook",
                    "runs",
                    "outcomes",
                    "lead median",
                    "lead p90",
                    "AI median",
                    "waiting median",
                    "waiting share",
                ],
                [
                    [
                        b["playbook"],
                        str(b["total"]),
                        _kinds(b["runs"]),
                        _duration(b["lead_time"]["median"]),
                        _duration(b["lead_time"]["p90"]),
                        _duration(b["ai_working"]["median"]),
                        _duration(b["waiting_on_people"]["median"]),
                        _percent(b["waiting_share"]),
                    ]
                    for b in report.playbooks
                ],
            )
        )
    if report.people:
        parts.append("<h2>People: time to decide</h2>")
        parts.append(f"<div class='chart'>{time_to_decide_chart(report.people)}</div>")
        parts.append(
            _table(
                [
                    "person",
                    "decisions",
                    "by kind",
                    "median",
                    "p90",
                    "SLA missed",
                    "handed on",
                    "edits",
                ],
                [
                    [
                        p["person"],
                        str(p["total"]),
                        _kinds(p["decisions"]) or "-",
                        _duration(p["time_to_decide"]["median"]),
                        _duration(p["time_to_decide"]["p90"]),
                        str(p["sla_misses"]),
                        str(p["reassignments"]),
                        str(p["edits"]),
                    ]
                    for p in report.people
                ],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: Report, path: Path, *, title: str = "crew report") -> None:
    """Write the page to `path` (ConfigError if it cannot be written)."""
    page = render_html(report, title=title)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None
