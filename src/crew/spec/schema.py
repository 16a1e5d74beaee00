"""JSON Schemas of the project files, so editors validate and complete the YAML as it is typed.

The schemas are generated from the same pydantic models the loader uses, so they cannot drift.
Files point at them with a first line such as
`# yaml-language-server: $schema=../schemas/role.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from crew.spec.models import CrewSpec, PlaybookSpec, RoleSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# file name -> (model, title, what the file is)
SCHEMAS: dict[str, tuple[type[BaseModel], str, str]] = {
    "crew.schema.json": (CrewSpec, "crew.yaml", "The team: people, model profiles, settings."),
    "role.schema.json": (RoleSpec, "agents/<role>.yaml", "One AI role with a named human owner."),
    "playbook.schema.json": (
        PlaybookSpec,
        "playbooks/<name>.yaml",
        "A repeatable workflow of agent steps and human checkpoints.",
    ),
}


def json_schema(file_name: str) -> dict[str, Any]:
    """The JSON Schema stored as `file_name` (one of SCHEMAS)."""
    model, title, description = SCHEMAS[file_name]
    body = model.model_json_schema(by_alias=True)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **body,
        "title": title,
        "description": description,
    }


def schema_text(file_name: str) -> str:
    return json.dumps(json_schema(file_name), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created if needed); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name in SCHEMAS:
        path = directory / file_name
        path.write_text(schema_text(file_name), encoding="utf-8")
        written.append(path)
    return written
