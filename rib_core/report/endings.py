"""The last lines of `rib bench`: where the results are, what to run next, and on failure how to see why."""

from __future__ import annotations

import shlex
from pathlib import Path


def next_steps(out: Path, failed: list[tuple[str, str]], skipped: list[str]) -> list[str]:
    """Plain lines (no markup) for the end of a run; `out` as the user wrote it, quoted for a shell."""
    d = shlex.quote(str(out))
    lines = [f"Results are in {d} (kept; a re-run reuses every finished cell). Next:",
             f"  rib report {d}                        the tables again",
             f"  rib report {d} --format json > results.json   every number, for your own analysis",
             f"  rib report {d} --plot ri.png          RI heatmaps and the pre-vs-post chart",
             "  docs/guide.md                         reading the report, running the real benchmark"]
    if failed or skipped:
        lines += ["Some cells failed (the kept results are valid):"]
        lines += [f"  - {what}: {why}" for what, why in failed]
        if skipped:
            lines += [f"  - {len(skipped)} cell(s) not run because a cell they depend on failed"]
        lines += [f"See why: rib status {d}   (each failed cell and its error; the traceback is in "
                  f"{d}/cells/<key>/failed.json)",
                  "then fix the cause and run the same 'rib bench' command again: finished cells are reused."]
    return lines
