#!/usr/bin/env bash
# The prepared GPU check (benchmarks/gpu_check.py): bf16 vs fp32 correctness and rib's speed figures for a
# ViT-B/16 on one CUDA device, in under 8 minutes, with nothing downloaded.
#
#   benchmarks/gpu_check.sh [gpu_check.py options]      e.g. --no-compile, --images 4096, --out FILE
#
# Needs only this checkout and rib-core's requirements (torch with CUDA, torchvision, timm, safetensors,
# numpy, pillow, pluggy, rich); rib itself need not be installed. The table goes to stdout, the JSON to
# --out, else $OUT/gpu_check.json when $OUT is set, else ./gpu_check.json. Without a CUDA device it runs
# the CPU fallback at tiny sizes. PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

"$PYTHON" - <<'PY'
import importlib, sys
missing = [m for m in ("torch", "torchvision", "timm", "safetensors", "numpy", "PIL", "pluggy", "rich")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing Python packages {', '.join(missing)}: pip install them (rib-core's requirements)")
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, devices: {torch.cuda.device_count()}"
      + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ""))
PY
command -v nvidia-smi >/dev/null \
  && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true

# 8 minutes for everything; the script itself keeps its optional parts inside --budget-s (7 minutes).
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py "$@"
