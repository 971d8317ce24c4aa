#!/usr/bin/env bash
# Renders the icons from their SVGs: PNGs at 22, 32 and 48 px into the hicolor layout that
# `make install` and the package copy (apps/ for the application, status/ for the tray's states),
# and the tray's pixmaps (ARGB32, network byte order, the StatusNotifierItem's IconPixmap) into
# Sources/QuiesceAgent/TrayPixmaps+Generated.swift, so the tray shows the same pictures on hosts
# that draw pixmaps rather than theme icons. Run after changing an SVG; what it writes is
# committed, so building and installing need no renderer.
# Needs rsvg-convert (Debian package librsvg2-bin) and python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v rsvg-convert >/dev/null || { echo "render-icons: rsvg-convert is missing (apt-get install librsvg2-bin)" >&2; exit 1; }
cd "$root/desktop/icons/hicolor"
for svg in scalable/*/*.svg; do
    context=$(basename "$(dirname "$svg")")
    name=$(basename "$svg" .svg)
    for size in 22 32 48; do
        mkdir -p "${size}x${size}/$context"
        rsvg-convert --width "$size" --height "$size" --output "${size}x${size}/$context/$name.png" "$svg"
    done
done
python3 "$root/scripts/tray-pixmaps.py" "$root/desktop/icons/hicolor" "$root/Sources/QuiesceAgent/TrayPixmaps+Generated.swift"
