"""Imports every command module so each registers its commands on the root app."""

from crew.cli import (  # noqa: F401
    answer,
    audit,
    board,
    demo,
    graph,
    new,
    remote,
    report,
    results,
    run,
    runs,
    schema,
    serve,
    server,
    show,
    token,
    tools,
    validate,
    worker,
)
