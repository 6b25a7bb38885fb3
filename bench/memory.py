"""Where a worker's memory goes: resident and peak memory (``/proc/self/status`` VmRSS, VmHWM) and CPU time after each
thing `newsroom run` loads with the default configuration, in the order it loads them.

    .venv/bin/python bench/memory.py

Prints one line per step and writes bench/results/memory.json. Linux only (it reads /proc).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
START = time.perf_counter()
HEADLINES = [  # invented
    "Harbor Labs raises $40 million in a Series B round led by Quartz Capital",
    "Exchange pauses withdrawals after a hot-wallet exploit",
    "Bitcoin climbs above $100,000 as spot ETF inflows accelerate",
]
TEXTS = [  # invented, one per language the guard checks in the benchmark (en, uk, de)
    "The company said the round closes next week and the money goes to hiring.",
    "Компанія заявила, що раунд закриється наступного тижня, а гроші підуть на найм.",
    "Das Unternehmen sagte, die Runde schließe nächste Woche, das Geld fließe in Einstellungen.",
]


def status() -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "peak_mb": int(fields["VmHWM"].split()[0]) / 1024,
        "cpu_s": time.process_time(),
        "wall_s": time.perf_counter() - START,
    }


def main() -> None:
    steps: list[dict[str, object]] = []

    def step(name: str) -> None:
        steps.append({"step": name, **{k: round(v, 2) for k, v in status().items()}})
        row = steps[-1]
        print(f"{name:58} rss {row['rss_mb']:7.1f} MB  peak {row['peak_mb']:7.1f} MB  cpu {row['cpu_s']:5.2f} s")

    step("interpreter")
    # what `newsroom run` imports before it starts (the command imports the pipeline and the model's client as it runs)
    import newsroom.cli
    import newsroom.llm.openai_compat
    import newsroom.pipeline  # noqa: F401

    step("import newsroom.cli (the command, the pipeline, the stages)")
    import torch  # noqa: F401

    step("import torch")
    from newsroom.embeddings import default_embedder

    default_embedder().model()
    step("MiniLM loaded (clustering, sentiment features)")
    default_embedder().embed(HEADLINES)
    step("MiniLM: first headlines embedded")
    from newsroom import sentiment

    sentiment.predict(HEADLINES)
    step("all-mpnet-base-v2 loaded, first sentiment")
    from newsroom.guards.base import GuardContext
    from newsroom.guards.language import check_language

    for lang, text in zip(("en", "uk", "de"), TEXTS, strict=True):
        check_language([("description", text)], GuardContext(lang=lang, source=text))
    step("lingua: one field checked in each of en, uk, de")
    out = HERE / "results" / "memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"steps": steps, "load_average": os.getloadavg(), "python": sys.version.split()[0]}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
