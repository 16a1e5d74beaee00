"""`crew demo history --runs 200`: a board with a past, so `crew report` has something to say.

Offline: the example project's playbook `launch-brief` runs through the real runtime with a
scripted model (`crew.testing.ScriptedModel`: the researcher calls its market_data tool, then
answers; the publisher calls publish_post, which waits for dan's approval), and scripted people
answer every card through `crew.people.answering.answer_card` and `resume_run`, as `crew answer`
does. The board's clock is simulated: the runs spread over the past `--days` days, people take
minutes to hours to decide (past an SLA, the card moves on: SLA misses), so lead times and times
to decide look like a team's. People's webhooks are left out (a demo notifies nobody), and
published posts go to a temporary folder.

The people follow a pattern the report should find: carol edits or rejects most drafts the
writer was only 0.7-0.8 sure of (so `crew report --suggest` proposes raising the writer's
threshold), the researcher's escalations are mostly approved, a few edited or retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import tempfile
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crew.cli._app import app, err_console

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.engine.runtime import Session
    from crew.spec.project import Project

demo_app = typer.Typer(help="Demo data for a project's board.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")

MARKETS = ("US", "EU", "JP")


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@demo_app.command("history")
def history(
    runs: Annotated[int, typer.Option("--runs", min=1, max=5000, help="How many runs.")] = 200,
    days: Annotated[
        int, typer.Option("--days", min=1, max=365, help="Spread over this many past days.")
    ] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same history).")] = 7,
) -> None:
    """Fill the project's board with finished runs of launch-brief, offline, with scripted model
    answers and people's decisions (for `crew report`)."""
    from crew.cli.board import open_project
    from crew.exceptions import ConfigError

    project = open_project(code=True)
    if "launch-brief" not in project.playbooks:
        raise ConfigError(
            "crew demo history runs the example project's playbook launch-brief, which this "
            "project does not have",
            hint="Run it in a copy of crew's example project (the repository's root).",
        )
    project = _quiet(project)
    filled = fill(project, runs=runs, days=days, seed=seed)
    err_console.print(
        f"{filled['runs']} runs of launch-brief over {days} days on board "
        f"{project.board_name!r} ({filled['decisions']} decisions by people); "
        "see them with `crew report`"
    )


def _quiet(project: Project) -> Project:
    """The project without webhooks (a demo notifies nobody), its models priced."""
    from crew.spec.models import Price

    people = {
        key: person.model_copy(update={"webhook": None})
        for key, person in project.crew.people.items()
    }
    # priced as gpt-4.1-mini (USD per million tokens), so the report shows what runs cost
    models = {
        name: profile
        if profile.price is not None
        else profile.model_copy(update={"price": Price(input=0.40, output=1.60)})
        for name, profile in project.crew.models.items()
    }
    crew = project.crew.model_copy(update={"people": people, "models": models})
    return dataclasses.replace(project, crew=crew)


def fill(project: Project, *, runs: int, days: int, seed: int) -> dict[str, int]:
    """Drive `runs` runs of launch-brief on the project's board under a simulated clock that
    ends about now; returns how many runs and decisions were made."""
    from crew.board.board import Board
    from crew.engine.runtime import Session

    rng = random.Random(seed)
    opened = Session.open(project, person="alice")
    clock = _Clock(opened.board.now() - days * 86400)
    board = Board(opened.board.client, opened.board.name, clock=clock)
    board._waitaof = False  # simulated decisions: no need to wait for the disk's fsync
    session = dataclasses.replace(opened, board=board, lease_seconds=30 * 86400.0)
    gap = (days * 86400 - 86400) / runs
    decisions = 0
    try:
        with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
            begin = clock.now
            for done in range(runs):
                if done and done % 25 == 0:
                    err_console.print(f"{done} of {runs} runs", style="dim")
                # runs start evenly over the period, ending a day or so before now
                clock.now = max(clock.now, begin + done * gap)
                decisions += _one_run(session, board, clock, rng)
    finally:
        opened.close()
    return {"runs": runs, "decisions": decisions}


def _model(rng: random.Random, clock: _Clock, markets: list[str]) -> Any:
    from crew.agents.responders import ModelReply
    from crew.testing import ScriptedModel, tool_calls, tool_results

    def think(call: Any) -> None:
        clock.advance(rng.uniform(8, 90))  # a model call takes seconds to a minute or so

    def used(answer: Any) -> ModelReply:
        """`answer` with the tokens a call of this size would use."""
        reply = answer if isinstance(answer, ModelReply) else ModelReply(answer)
        return dataclasses.replace(
            reply, input_tokens=rng.randint(600, 2400), output_tokens=rng.randint(150, 700)
        )

    def research(call: Any) -> Any:
        think(call)
        if not tool_results(call):
            return used(tool_calls(("market_data", {"market": markets[call.item or 0]})))
        sure = (
            rng.choice((0.45, 0.55, 0.62, 0.66)) if rng.random() < 0.25 else rng.uniform(0.7, 0.95)
        )
        if any("2025 figures" in str(m.get("content")) for m in call.messages):
            sure = rng.uniform(0.8, 0.95)
        return used(
            {
                "summary": f"Demand in {markets[call.item or 0]}: steady growth in outdoor retail.",
                "risks": ["boil time in cloudy weather"],
                "severity": rng.choice(("low", "medium")),
                "score": round(rng.uniform(5, 9), 1),
                "confidence": round(sure, 2),
                "rationale": "Market figures from market_data.",
            }
        )

    def draft(call: Any) -> Any:
        think(call)
        sure = rng.uniform(0.7, 0.97)
        return used(
            {
                "brief": "# Launch brief\n**Recommendation:** launch in the outdoor channel.",
                "confidence": round(sure, 2),
                "rationale": "Follows the research.",
            }
        )

    def triage(call: Any) -> Any:
        think(call)
        severity = rng.choices(("low", "medium", "high"), (0.35, 0.5, 0.15))[0]
        return used(
            {
                "severity": severity,
                "reasons": ["a performance claim needs a second look"],
                "confidence": round(rng.uniform(0.76, 0.97), 2),
                "rationale": "Claims checked against the research.",
            }
        )

    def publish(call: Any) -> Any:
        think(call)
        results = tool_results(call)
        if not results:
            return used(
                tool_calls(
                    (
                        "publish_post",
                        {"channel": "blog", "title": "Launch brief", "body": "Launch."},
                    )
                )
            )
        return used(
            {
                "channel": "blog",
                "url": "https://example.com/blog/launch-brief",
                "confidence": 0.95,
                "rationale": "Published where the brief fits.",
            }
        )

    return ScriptedModel(
        {"research": research, "draft": draft, "triage": triage, "publish": publish}
    )


def _one_run(session: Session, board: Board, clock: _Clock, rng: random.Random) -> int:
    from crew.engine.runtime import resume_run, start_run

    project = session.project
    markets = rng.sample(MARKETS, rng.choice((1, 1, 2, 3)))
    model = _model(rng, clock, markets)
    report = start_run(
        session,
        project.playbook("launch-brief"),
        {"product": "solar kettle", "markets": markets},
        responder=model,
    )
    decisions = 0
    while str(report.status) == "waiting" and decisions < 40:
        for waiting in report.waiting_on:
            decisions += _decide(session, board, clock, rng, waiting)
        report = resume_run(session, report.run, responder=model)
    if str(report.status) == "waiting":  # should not happen; never leave a demo run hanging
        board.cancel_run(report.run, actor="demo", reason="demo gave up")
    return decisions


def _decide(session: Session, board: Board, clock: _Clock, rng: random.Random, waiting: Any) -> int:
    from crew.exceptions import NotAllowed
    from crew.people.answering import answer_card
    from crew.people.sla import sweep

    card_id = waiting["card"] if isinstance(waiting, dict) else waiting.card
    card = board.get(card_id)
    if card.decision is not None or not card.status.waits_on_person:
        return 0
    # people take minutes to hours; past the SLA the sweep moves the card on (a miss)
    clock.advance(min(rng.lognormvariate(7.6, 1.0), 12 * 3600))
    sweep(session.project, board)
    card = board.get(card_id)
    if card.waiting_since is not None and abs(card.waiting_since - clock.now) < 1:
        clock.advance(rng.uniform(300, 3600))  # moved on just now: the next person takes a while
    person = card.assignee
    kind = str(card.kind)
    decision, edited, comment = "approve", None, None
    if kind == "escalation":
        roll = rng.random()
        if card.output is None:  # no valid output to approve: ask again
            decision, comment = "retry", "answer in the fields asked"
        elif roll < 0.2:
            decision, edited = "edit", {**(card.output or {}), "summary": "Checked again: fine."}
        elif roll < 0.3:
            decision, comment = "retry", "use the 2025 figures"
    elif kind == "checkpoint":
        if "dan" in card.may_answer and rng.random() < 0.15:
            person = "dan"
        draft = _shown_draft(board, card)
        risky = draft is not None and draft < 0.8
        roll = rng.random()
        if roll < (0.45 if risky else 0.05):
            decision, comment = "reject", "the boil-time claim needs a lab test"
        elif roll < (0.8 if risky else 0.1):
            decision, edited = "edit", {"brief": "# Launch brief (edited)\nLab-tested claims."}
    try:
        answer_card(session.project, board, card_id, person, decision, comment, edited)
    except NotAllowed:  # e.g. separation of duties: someone else who may answer does
        others = [p for p in card.may_answer if p != person]
        if not others:
            raise
        answer_card(session.project, board, card_id, others[0], decision, comment, edited)
    return 1


def _shown_draft(board: Board, card: Any) -> float | None:
    """The confidence of the latest draft the checkpoint shows."""
    drafts = [
        c for c in board.cards_of_run(card.run) if c.step == "draft" and c.confidence is not None
    ]
    if not drafts:
        return None
    return max(drafts, key=lambda c: (c.revision, c.created)).confidence
