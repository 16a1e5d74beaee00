"""The model-facing modules load LangChain and openai only when a live call is made."""

from __future__ import annotations

import subprocess
import sys


def test_agent_cassette_and_testing_modules_import_without_langchain() -> None:
    code = (
        "import sys, crew.agents.step, crew.agents.cassettes, crew.agents.responders; "
        "import crew.agents.outputs, crew.testing; "
        "heavy = {'langchain_core', 'langchain_openai', 'langgraph', 'openai', 'httpx'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"
