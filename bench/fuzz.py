"""API fuzzing: schemathesis against the served OpenAPI schema (/schema) of a real server.

It generates requests from the schema (valid and invalid bodies, parameters, headers,
and the stateful links where the schema has them), sends them to a private `slipway
server`, and reads every exchange back from the HAR report: the target is no response
with a 5xx status, and every error shaped `{"id": ..., "message": ...}` as Heroku's are.

Usage: .venv/bin/python bench/fuzz.py [--max-examples 60] [--max-time 600]
Prints: requests sent, 5xx responses, badly shaped errors, and each failure found.
The short CI run is tests/fuzz/test_api_fuzz.py (the same function, fewer examples).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCEPT = "application/vnd.heroku+json; version=3"


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    badly_shaped: list[str] = field(default_factory=list)
    schemathesis_exit: int = 0
    output: str = ""

    def summary(self) -> str:
        top = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"requests={self.requests} 5xx={len(self.server_errors)} "
            f"badly_shaped_errors={len(self.badly_shaped)} statuses=({top})"
        )


def _body(response: dict[str, object]) -> str:
    content = response.get("content") or {}
    assert isinstance(content, dict)
    text = str(content.get("text") or "")
    if content.get("encoding") == "base64":
        text = base64.b64decode(text).decode(errors="replace")
    return text


def _is_heroku_error(text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and isinstance(body.get("id"), str)
        and isinstance(body.get("message"), str)
        and bool(body["message"])
    )


def read_har(path: Path, report: FuzzReport) -> None:
    entries = json.loads(path.read_text())["log"]["entries"]
    for entry in entries:
        request, response = entry["request"], entry["response"]
        status = int(response["status"])
        report.requests += 1
        report.statuses[status] += 1
        what = f"{request['method']} {request['url']} -> {status}"
        text = _body(response)
        if status >= 500:
            report.server_errors.append(f"{what}: {text[:300]}")
        # 401/403/404/422/429 ... all carry Heroku's error shape (HEAD has no body).
        if status >= 400 and request["method"] != "HEAD" and not _is_heroku_error(text):
            report.badly_shaped.append(f"{what}: {text[:300]!r}")


def fuzz(
    api_url: str,
    api_key: str,
    workdir: Path,
    *,
    max_examples: int,
    max_time: float,
    seed: int | None = None,
) -> FuzzReport:
    """Run schemathesis once against `api_url` and read back what it sent and got."""
    workdir.mkdir(parents=True, exist_ok=True)
    har = workdir / "fuzz.har"
    argv = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{api_url}/schema",
        "--header",
        f"Authorization: Bearer {api_key}",
        "--header",
        f"Accept: {ACCEPT}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(int(max_time)),
        "--request-timeout",
        "30",
        "--continue-on-failure",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        "--workers",
        "2",
        "--output-truncate",
        "true",
    ]
    if seed is not None:
        argv += ["--seed", str(seed)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=max_time + 300, cwd=workdir, check=False
    )
    report = FuzzReport(schemathesis_exit=done.returncode, output=done.stdout + done.stderr)
    if har.exists():
        read_har(har, report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=60)
    parser.add_argument("--max-time", type=float, default=600)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support import ServerProcess

    root = Path(tempfile.mkdtemp(prefix="slipway-fuzz-"))
    server = ServerProcess(
        root / "data", extra_args=("--rate-limit", "1000000", "--no-router")
    ).start()
    try:
        report = fuzz(
            server.url,
            server.api_key,
            root / "work",
            max_examples=args.max_examples,
            max_time=args.max_time,
            seed=args.seed,
        )
    finally:
        server.stop()
    print(report.summary())
    for line in report.server_errors[:40]:
        print("5xx:", line)
    for line in report.badly_shaped[:40]:
        print("shape:", line)
    if report.requests == 0:
        print(report.output[-4000:])
    shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if report.server_errors or report.badly_shaped or not report.requests else 0)


if __name__ == "__main__":
    main()
