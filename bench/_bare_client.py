"""The floor of bench/throughput.py: its model calls through bare langchain-openai, nothing else.

    python bench/_bare_client.py URL RUNS THREADS

One process of the floor: `RUNS` runs of 3 calls in a row, `THREADS` runs at a time, each call
a `ChatOpenAI` bound to the bench's output schema (the request crew's `json_schema` method
sends, without crew, LangGraph or Redis). It warms up (imports, one call), prints `ready`, waits
for a line on stdin, makes its calls, and prints `{"start": ..., "end": ...}` (epoch seconds),
so several processes are timed as one fleet.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

STEPS = 3
SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "confidence": {"type": "number"},
        "rationale": {"type": "string"},
    },
    "required": ["text", "confidence", "rationale"],
}
MESSAGES = [
    ("system", "You are Writer. Write one line. Answer in JSON."),
    ("human", "Line 0 about tides 0."),
]


def main() -> None:
    url, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = ChatOpenAI(model="loopback", base_url=url, api_key=SecretStr("sk-bench"))
    bound = model.bind(
        response_format={"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    )
    bound.invoke(MESSAGES)
    print("ready", flush=True)
    sys.stdin.readline()

    def run(_: int) -> None:
        for _ in range(STEPS):
            bound.invoke(MESSAGES)

    start = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(runs)))
    print(json.dumps({"start": start, "end": time.time()}), flush=True)


if __name__ == "__main__":
    main()
