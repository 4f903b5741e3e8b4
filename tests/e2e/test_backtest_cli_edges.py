"""``bearwatch backtest`` on input a newcomer gets wrong: one clear line and a failing exit status, bounded output,
and progress lines when the output goes to a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor.ground.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.shell.cli", "backtest", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


def environment(stack: EmbeddedStack, unique: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEARWATCH_")}
    env.update({"BEARWATCH_REDIS_URL": stack.redis_url, "BEARWATCH_REDIS_NAMESPACE": f"test{unique}",
                "BEARWATCH_VAR_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"})
    return env


def test_from_after_to_and_a_file_without_stories_fail_in_one_line(stack: EmbeddedStack, unique: str,
                                                                    tmp_path: Path) -> None:
    env = environment(stack, unique, tmp_path)
    news = tmp_path / "news.csv"
    news.write_text("date,title\n2022-05-02 10:00,Markets fall\n", encoding="utf-8")
    backwards = run([str(news), "--from", "2022-05-03", "--to", "2022-05-02", "--quiet"], env)
    assert backwards.returncode != 0 and "is not before --to" in backwards.stderr + backwards.stdout
    assert "Traceback" not in backwards.stderr
    empty = tmp_path / "empty.csv"
    huge = "x" * 2_000_000
    empty.write_text(f"date,title\nnot a date,{huge}\n{huge},title\n", encoding="utf-8")
    nothing = run([str(empty), "--quiet", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "s.sqlite")],
                  env)
    assert nothing.returncode == 1, nothing.stdout[-2000:] + nothing.stderr[-2000:]
    assert "no stories to backtest" in " ".join((nothing.stdout + nothing.stderr).split())
    # a 2 MB cell is cut in the log, not echoed: the whole output stays small
    assert len(nothing.stdout) + len(nothing.stderr) < 20_000 and "chars)" in nothing.stderr


def test_progress_goes_to_a_file_as_plain_lines() -> None:
    import io

    from rich.console import Console

    from monitor.ground import progress

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    with progress.Bars(console) as bars:
        step = bars.step("scoring", 3)
        step.advance(1)
        step.advance(2)  # the last item: a line even within LOG_EVERY_S
    lines = out.getvalue().splitlines()
    assert lines and lines[-1].startswith("scoring: 3/3 (") and "\x1b" not in out.getvalue()
