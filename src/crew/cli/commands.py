"""Imports every command module so each registers its commands on the root app."""

from crew.cli import (  # noqa: F401
    answer,
    audit,
    board,
    graph,
    new,
    report,
    results,
    run,
    runs,
    schema,
    server,
    show,
    tools,
    validate,
    worker,
)
