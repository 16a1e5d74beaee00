"""The README's signing example, verbatim: a key made with ssh-keygen, `crew keys` before and
after it is listed for Carol, a run whose escalation Alice answers self-declared and whose
checkpoint Carol answers signed (Dan approves the publish call, self-declared), `crew audit
verify`, and the exported decision checked by OpenSSH's own `ssh-keygen -Y verify`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.example import copy_example

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="the README's example uses OpenSSH's ssh-keygen"
)


def blocks() -> tuple[list[str], list[str]]:
    """The README's two signing blocks: making the key, then the signed run."""
    readme = (REPO / "README.md").read_text()
    found = [b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)]
    key = next(b for b in found if "crew keys --as carol" in b)
    run = next(b for b in found if "crew audit verify" in b)
    return [line for line in key.splitlines() if line.strip()], [
        line for line in run.splitlines() if line.strip()
    ]


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["CREW_SIGNING_KEY"] = str(cwd / "carol_key")  # the block's `export`, in every shell
    env.pop("CREW_USER", None)
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_signing_example_runs(project_dir: Path) -> None:
    copy_example(project_dir)
    make_key, signed_run = blocks()

    first = shell("\n".join(make_key), project_dir)
    assert first.returncode == 0, first.stderr
    assert "listed: no" in first.stdout
    (public,) = re.findall(r"^public: (.*)$", first.stdout, flags=re.M)
    # What the README asks the reader to do by hand: list the key for Carol in crew.yaml.
    crew_yaml = project_dir / "crew.yaml"
    team = yaml.safe_load(crew_yaml.read_text())
    team["people"]["carol"]["keys"] = [public]
    crew_yaml.write_text(yaml.safe_dump(team, sort_keys=False))
    assert "listed: yes" in shell("crew keys --as carol", project_dir).stdout

    run, retry, approve, publish, verify, export, check = signed_run
    assert shell(run, project_dir).returncode == 3
    assert shell(retry, project_dir).returncode == 3
    approved = shell(approve, project_dir)
    assert approved.returncode == 3, approved.stderr  # now dan approves the publish_post call
    published = shell(publish, project_dir)
    assert published.returncode == 0, published.stdout + published.stderr
    verified = shell(verify, project_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 signed decision: ok" in verified.stdout
    assert shell(export, project_dir).returncode == 0
    checked = shell(check, project_dir)
    assert checked.returncode == 0, checked.stderr
    assert 'Good "crew" signature for carol' in checked.stdout
