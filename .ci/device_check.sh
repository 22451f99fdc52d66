#!/usr/bin/env bash
# GPU checks, run by hand on a lent NVIDIA machine (CI has no GPU and never runs this).
# Needs librosa, av and their needs as wheels in .whl/ (see the device tool's README).
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
# the wheel maps nodes/ to afx_graph.nodes: lay the package out that way
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r afx_graph /tmp/pkg/ && cp -r nodes /tmp/pkg/afx_graph/nodes
export PYTHONPATH=/tmp/site:/tmp/pkg
OUT=${OUT:-/tmp/afx-device}; mkdir -p "$OUT"
afx() { python3 -P -c 'import sys; from afx_graph.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
T=/tmp/afxdev; mkdir -p $T
afx bench cppn --device cuda --precision fp16 --sizes 640x360,1920x1080 --frames 120
afx bench cppn --device cuda --precision fp32 --sizes 1920x1080 --frames 120
timeout 200 python3 .ci/device_check.py "$OUT"
# the whole path at 1080p60: render + encode (the encoder the node picks on this machine)
afx run graphs/demo.yaml --device cuda --size 1920x1080 --fps 60 --duration 10 -o $T/demo1080.mp4 --force
afx run graphs/demo.yaml --device cuda --size 1920x1080 --fps 60 --duration 10 -o $T/demo1080b.mp4 --force --set video.codec=libx264
# a fit on the GPU: two generated keyframes
python3 - <<'PY'
import numpy as np
for name, f in (("a", lambda x, y: np.sin(9 * x) * np.cos(7 * y)), ("b", lambda x, y: np.sin(13 * (x * x + y * y)))):
    y, x = np.mgrid[-1:1:256j, -1:1:256j]
    v = f(x, y)
    img = (np.stack([v, np.roll(v, 30, 0), -v], -1) * 0.5 + 0.5) * 255
    from PIL import Image
    Image.fromarray(img.astype(np.uint8)).save(f"/tmp/afxdev/{name}.png")
PY
ls $T
afx fit $T/a.png $T/b.png -o $T/look.safetensors --device cuda --force
afx fit $T/a.png $T/b.png -o $T/look1024.safetensors --device cuda --size 512 --force
