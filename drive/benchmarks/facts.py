"""What a benchmark number was measured on: device, threads, library versions, load, date."""

from __future__ import annotations

import datetime
import json
import os
import platform

import torch


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(device: str = "cpu") -> dict[str, object]:
    """A JSON-ready record of the hardware and software a measurement ran on."""
    facts: dict[str, object] = {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        facts["load_average_1m"] = round(os.getloadavg()[0], 2)
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return facts


def finish_report(result: dict, table_text: str, plot, plot_path, json_path) -> dict:
    """Print a benchmark's table and its total time, then write the optional plot and JSON.

    ``result`` holds ``total_s`` and ``facts``; ``plot(result, path)`` draws the figure."""
    print(table_text)
    print(f"total {result['total_s']:.0f} s on {result['facts']['cpu']} ({torch.get_num_threads()} threads)")
    if plot_path:
        plot(result, plot_path)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result
