"""One agent execution: the prompt and its model call (`step`, through a `responders.Responder`),
the output checked against the role (`outputs`), its confidence (`confidence`), when it goes to a
person (`escalation`), and recorded answers for offline runs (`cassettes`). Uses board/ and spec/.

Import from the modules (`crew.agents.step`), or the public names from `crew`.
"""
