"""A playbook drawn as its author wrote it (what `crew graph` prints): one node per step, the
order of `crew.spec.flow`, routes labelled with their cases, revision loops labelled `on reject`.

Pure spec: no LangGraph, so drawing is instant. `crew graph --internal` shows the compiled graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crew.spec import flow
from crew.spec.models import PlaybookSpec, StepSpec

__all__ = ["Edge", "edges", "mermaid", "sketch_lines"]

START = "start"
END = "end"
_MERMAID_IDS = {START: "run_start", END: "run_end"}  # `end` is a Mermaid keyword


@dataclass(frozen=True)
class Edge:
    """One arrow: `source` -> `target` (step ids, or START / END), with its label and kind:
    `needs` (waits for), `route` (chosen by a route) or `reject` (a revision loop)."""

    source: str
    target: str
    label: str = ""
    kind: str = "needs"


def _run(step: StepSpec) -> str | None:
    """The `module:function` of an automated step, else None."""
    value = getattr(step, "run", None)
    return value if isinstance(value, str) else None


def kind_of(step: StepSpec) -> str:
    """What a step is, for a person: `checkpoint · OWNER`, `run: module:function` or its role."""
    if step.checkpoint is not None:
        return f"checkpoint · {step.checkpoint.owner}"
    if step.human is not None:
        return f"human · {step.human.owner}"
    automated = _run(step)
    if automated is not None:
        return f"run: {automated}"
    return step.role or ""


def title_of(step: StepSpec) -> str:
    """The step id, with its fan-out: `research × inputs.markets`."""
    return f"{step.id} × {step.for_each}" if step.for_each else step.id


def route_cases(step: StepSpec) -> dict[str, list[str]]:
    """Target step -> the route values that select it (`default` for the route's default)."""
    grouped: dict[str, list[str]] = {}
    if step.route is None:
        return grouped
    for value, target in step.route.cases.items():
        grouped.setdefault(target, []).append(value)
    if step.route.default is not None:
        grouped.setdefault(step.route.default, []).append("default")
    return grouped


def edges(playbook: PlaybookSpec) -> list[Edge]:
    """Every arrow of the drawing, from START to END."""
    ids = [step.id for step in playbook.steps]
    known = set(ids)
    waits = flow.needs(playbook)
    routed = flow.routes_into(playbook)
    result: list[Edge] = []
    leads_on: set[str] = set()  # steps something runs after
    for step in playbook.steps:
        before = [name for name in waits[step.id] if name in known]
        if not before and step.id not in routed:
            result.append(Edge(START, step.id))
        for name in before:
            result.append(Edge(name, step.id))
            leads_on.add(name)
        for target, values in route_cases(step).items():
            if target in known:
                result.append(Edge(step.id, target, ", ".join(values), "route"))
                leads_on.add(step.id)
        if step.checkpoint is not None and step.checkpoint.on_reject in known:
            result.append(Edge(step.id, step.checkpoint.on_reject, "on reject", "reject"))
    result.extend(Edge(step_id, END) for step_id in ids if step_id not in leads_on)
    return result


# --- Mermaid -----------------------------------------------------------------------------------

_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"})


def _escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.translate(_ENTITIES)


def _node_ids(playbook: PlaybookSpec) -> dict[str, str]:
    """Step id -> a Mermaid-safe node id (letters, digits, `_`; unique; never a keyword)."""
    taken = set(_MERMAID_IDS.values())
    result = dict(_MERMAID_IDS)
    for step in playbook.steps:
        base = "step_" + re.sub(r"[^A-Za-z0-9_]", "_", step.id)
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        result[step.id] = candidate
    return result


def _node(step: StepSpec, node_id: str) -> str:
    label = f"{_escape(title_of(step))}<br/>{_escape(kind_of(step))}"
    if step.route is not None:
        label += f"<br/>{_escape('routes on ' + step.route.field)}"
    if step.checkpoint is not None:
        return f'{node_id}{{{{"{label}"}}}}'  # a hexagon: a person decides
    if _run(step) is not None:
        return f'{node_id}[/"{label}"/]'  # a parallelogram: automated
    if step.for_each:
        return f'{node_id}[["{label}"]]'  # a double-edged box: fanned out
    return f'{node_id}["{label}"]'


def mermaid(playbook: PlaybookSpec) -> str:
    """The playbook as a Mermaid `flowchart TD`."""
    ids = _node_ids(playbook)
    lines = [
        "---",
        f'title: "{_escape(playbook.name)}"',
        "---",
        "flowchart TD",
        f'    {_MERMAID_IDS[START]}(["start"])',
    ]
    lines.extend(f"    {_node(step, ids[step.id])}" for step in playbook.steps)
    lines.append(f'    {_MERMAID_IDS[END]}(["end"])')
    for edge in edges(playbook):
        arrow = "-.->" if edge.kind == "reject" else "-->"
        label = f'|"{_escape(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


# --- the terminal sketch -----------------------------------------------------------------------


def sketch_lines(playbook: PlaybookSpec) -> list[tuple[str, str, list[str]]]:
    """Per step, in playbook order: (its title, what it is and when it runs, the lines of where
    it can go next). Plain text; the CLI styles and fits it."""
    waits = flow.needs(playbook)
    routed = flow.routes_into(playbook)
    drawn = edges(playbook)
    rows: list[tuple[str, str, list[str]]] = []
    for step in playbook.steps:
        when: list[str] = []
        if any(e.source == START and e.target == step.id for e in drawn):
            when.append("at start")
        if waits[step.id]:
            when.append("after " + ", ".join(waits[step.id]))
        if step.id in routed:
            when.append("when " + ", ".join(routed[step.id]) + " routes here")
        notes: list[str] = []
        if step.route is not None:
            for target, values in route_cases(step).items():
                notes.append(f"{step.route.field} {', '.join(values)} → {target}")
        if step.checkpoint is not None and step.checkpoint.on_reject:
            notes.append(
                f"on reject → {step.checkpoint.on_reject} "
                f"(at most {step.checkpoint.max_revisions} revisions)"
            )
        if any(e.source == step.id and e.target == END for e in drawn):
            notes.append("→ end")
        rows.append((title_of(step), " · ".join([kind_of(step), *when]), notes))
    return rows
