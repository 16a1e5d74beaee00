"""Helpers the tests share (no tests here, and nothing pytest collects). Fixtures are in
`tests/conftest.py`; these are the plain functions and classes behind them and beside them:

- `board`: a dump of every key of a board (a refused transition changed nothing), a fake clock
- `cli`: reading a `crew` command's `--json` output
- `example`: copies of the example project, made confident, or pointed at a loopback model
- `graph`: compiled playbooks run in-process with a recording step executor (no board, no model)
- `imports`: which heavy packages a `crew` command imports, in a fresh interpreter
- `redis_server`: redis-servers a test starts itself, a proxy that answers LOADING
- `terminal`: `crew` on a pseudo-terminal
- `web`: `crew serve` on a loopback port, tokens from `crew token issue`
- `webhook`: webhook receivers on 127.0.0.1
"""
