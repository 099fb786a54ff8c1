"""Write the JSON Schemas of the jobs' typed results to docs/schemas/ (run after changing
simulator/results.py; a test checks they are up to date)."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.results import SCHEMAS

OUT = Path(__file__).with_name("schemas")


def schemas() -> dict[str, str]:
    return {f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=1) + "\n"
            for name, model in SCHEMAS.items()}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in schemas().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
