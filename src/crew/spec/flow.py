"""The order of a playbook's steps, as DESIGN §2.3 defines it (shared by validation and the graph).

- `needs` lists what a step waits for. Without `needs` a step follows the step listed before it,
  except a route target: it runs when a route selects it (and after its explicit `needs`, if any).
- `on_reject` goes back to an earlier step; it is a revision loop, not an ordering edge.
- An `edit` answer to a checkpoint replaces the output of the first step it shows, else of the
  step listed before it (`edited_step`).
"""

from __future__ import annotations

from crew.spec.models import PlaybookSpec, StepSpec
from crew.spec.templates import references


def needs(playbook: PlaybookSpec) -> dict[str, tuple[str, ...]]:
    """Step id -> the steps it waits for (explicit `needs`, else the step listed before it)."""
    targets = routes_into(playbook)
    result: dict[str, tuple[str, ...]] = {}
    previous: str | None = None
    for step in playbook.steps:
        if step.needs is not None:
            result[step.id] = tuple(step.needs)
        elif step.id in targets or previous is None:
            result[step.id] = ()
        else:
            result[step.id] = (previous,)
        previous = step.id
    return result


def route_targets(step: StepSpec) -> tuple[str, ...]:
    """The steps `step`'s route may select (its cases, then its default), each once; none
    without a route."""
    if step.route is None:
        return ()
    chosen = [*step.route.cases.values()]
    if step.route.default is not None:
        chosen.append(step.route.default)
    return tuple(dict.fromkeys(chosen))


def routes_into(playbook: PlaybookSpec) -> dict[str, tuple[str, ...]]:
    """Route target id -> the steps whose `route` may select it."""
    result: dict[str, list[str]] = {}
    for step in playbook.steps:
        for target in route_targets(step):
            result.setdefault(target, []).append(step.id)
    return {target: tuple(sources) for target, sources in result.items()}


def edited_step(playbook: PlaybookSpec, checkpoint: str) -> str | None:
    """The step whose output an `edit` answer to checkpoint `checkpoint` replaces: the first
    step it shows, else the step listed before it (None for a first step, or a step id that is
    not a checkpoint of `playbook`)."""
    ids = [step.id for step in playbook.steps]
    if checkpoint not in ids:
        return None
    spec = playbook.step(checkpoint).checkpoint
    if spec is None:
        return None
    if spec.show:
        return spec.show[0]
    index = ids.index(checkpoint)
    return ids[index - 1] if index else None


def final_steps(playbook: PlaybookSpec) -> tuple[str, ...]:
    """The steps whose outputs are a run's results, in playbook order: the playbook's declared
    `outputs`, else every agent step nothing else uses. A step is used when another step needs
    it, a template (a task, a checkpoint's question, a `for_each`) names `steps.<id>`, a
    checkpoint shows it, or it has a route (its output chose what ran next). Checkpoints are
    never results: their outcome is a decision, not an output."""
    if playbook.outputs is not None:
        return tuple(playbook.outputs)
    used: set[str] = set()
    for waits_for in needs(playbook).values():
        used.update(waits_for)
    for step in playbook.steps:
        if step.route is not None:
            used.add(step.id)
        texts = [step.work or "", step.for_each or ""]
        if step.checkpoint is not None:
            used.update(step.checkpoint.show or ())
            texts.append(step.checkpoint.question)
        for text in texts:
            for name in references(text) if "{{" in text else [text]:
                parts = name.split(".")
                if len(parts) > 1 and parts[0] == "steps":
                    used.add(parts[1])
    return tuple(
        step.id for step in playbook.steps if step.checkpoint is None and step.id not in used
    )


def upstream(playbook: PlaybookSpec) -> dict[str, tuple[str, ...]]:
    """Step id -> every step that leads to it directly (its needs and the routes into it)."""
    routed = routes_into(playbook)
    return {
        step_id: tuple(dict.fromkeys([*waits_for, *routed.get(step_id, ())]))
        for step_id, waits_for in needs(playbook).items()
    }


def ancestors(playbook: PlaybookSpec, step_id: str) -> set[str]:
    """Every step that runs (or may run) before `step_id` on the way to it."""
    edges = upstream(playbook)
    seen: set[str] = set()
    todo = list(edges.get(step_id, ()))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(edges.get(current, ()))
    return seen


def cycles(playbook: PlaybookSpec) -> list[list[str]]:
    """Each ordering cycle once, as the step ids in run order, from the step listed first
    (which is repeated at the end)."""
    edges = upstream(playbook)
    order = [step.id for step in playbook.steps]
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for before in edges.get(node, ()):
            if before not in edges:
                continue  # an unknown step: reported elsewhere
            if state.get(before) == 1:
                loop = path[path.index(before) :]
                if frozenset(loop) not in seen_sets:
                    seen_sets.add(frozenset(loop))
                    # Edges point backwards (step -> what it waits for); tell it forwards,
                    # from the step listed first in the playbook.
                    forwards = list(reversed(loop))
                    start = forwards.index(min(forwards, key=order.index))
                    forwards = forwards[start:] + forwards[:start]
                    found.append([*forwards, forwards[0]])
            elif state.get(before) is None:
                visit(before)
        path.pop()
        state[node] = 2

    for step_id in order:
        if state.get(step_id) is None:
            visit(step_id)
    return found
