"""`crew serve` (DESIGN §8): a web inbox and JSON API on the same board as the CLI.

A surface like `crew.cli`: it parses requests, calls the library's use cases (answering a card,
the card view, a run's report and timeline, submitting a run) and renders them; no rule lives
here. Needs the `web` extra (`pip install "crew[web]"`); nothing but the CLI imports it.

    crew.web.app      the ASGI app, its guards, `serve`
    crew.web.pages    the HTML pages (Jinja2 templates in templates/, static files in static/)
    crew.web.api      the JSON API (bearer tokens)
    crew.web.views    what both show and do, in the CLI's --json shapes
    crew.web.access   what a signed-in person may see
    crew.web.forms    forms generated from output fields
    crew.web.markdown outputs as sanitised Markdown
    crew.web.state    sessions, sign-in limits, runs going on after an answer
"""
