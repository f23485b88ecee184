"""`rib list KIND NAME`: one registered name, and the options a suite entry of it may set, from its declaration.

`describe` gives the facts as a dict (`--json`), `text` as the lines the command prints. Loading the target is
needed to read its `accepted_options`, so this may import torch (plain `rib list KIND` never does).
"""

from __future__ import annotations

from rib_core.contract import KINDS
from rib_core.options import UNSET, declared_options, kind_text, toml_text
from rib_core.suite import DATASET_KEYS, MODEL_KEYS, STRATEGY_KEYS

# The keys every entry of a kind takes, which the core reads itself (docs/suites.md).
ENTRY_KEYS = {"models": MODEL_KEYS, "datasets": DATASET_KEYS, "strategies": STRATEGY_KEYS}


def describe(registry, kind: str, name: str) -> dict:
    """What `name` is (its registration) and every option it declares: name, type, default, meaning."""
    reg = registry.get(kind, name)
    info = {"kind": kind, "name": name, "registered_as": reg.name, "plugin": reg.plugin,
            "description": reg.description, "target": reg.target, "keywords": dict(reg.extra),
            "entry_keys": list(ENTRY_KEYS.get(kind, {})), "options": []}
    if kind in ENTRY_KEYS:
        for key, option in declared_options(reg.load()).items():
            row = {"name": key, "type": kind_text(option), "help": option.help}
            if option.default is not UNSET:
                row["default"] = option.default
            info["options"].append(row)
    return info


def text(info: dict) -> str:
    """The lines `rib list KIND NAME` prints for `describe`'s dict."""
    noun = KINDS[info["kind"]].noun
    pattern = f" (pattern '{info['registered_as']}')" if info["registered_as"] != info["name"] else ""
    lines = [f"{noun} '{info['name']}'{pattern}, from plugin {info['plugin']}: {info['description']}",
             f"target: {info['target']}"]
    lines += [f"{key}: {value}" for key, value in info["keywords"].items()]
    if info["kind"] not in ENTRY_KEYS:
        return "\n".join(lines + ["options: none (a suite names it, nothing more)"])
    if not info["options"]:
        lines.append("options: none")
    else:
        rows = [(o["name"], o["type"], toml_text(o["default"]) if "default" in o else "unset", o["help"])
                for o in info["options"]]
        widths = [max(len(r[i]) for r in rows + [("option", "type", "default", "")]) for i in range(3)]
        lines.append("")
        lines.append("  ".join(h.ljust(w) for h, w in zip(("option", "type", "default"), widths)) + "  meaning")
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    lines.append(f"\nEvery {noun} entry also takes: {', '.join(info['entry_keys'])} (docs/suites.md).")
    return "\n".join(lines)
