#!/usr/bin/env bash
# Renders the application icon's PNGs (22, 32, 48 px) from its SVG, into the hicolor layout that
# `make install` and the package copy. Run after changing the SVG; the PNGs are committed, so
# installing needs no renderer. Needs rsvg-convert (Debian package librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/../desktop/icons/hicolor"
command -v rsvg-convert >/dev/null || { echo "render-icons: rsvg-convert is missing (apt-get install librsvg2-bin)" >&2; exit 1; }
for svg in scalable/apps/*.svg; do
    name=$(basename "$svg" .svg)
    for size in 22 32 48; do
        mkdir -p "${size}x${size}/apps"
        rsvg-convert --width "$size" --height "$size" --output "${size}x${size}/apps/$name.png" "$svg"
    done
done
