#!/usr/bin/env bash
# README command 1 on an emulated arm64 Debian, compared with the same command on this x86 machine.
#
#   sudo bash scripts/arm64_check.sh          (root: debootstrap, chroot and mounts need it)
#
# 1. An arm64 Debian root (debootstrap --foreign, second stage through qemu-user-static and
#    binfmt_misc), cached in $ARM64_CACHE (default /var/tmp/lnet-edge-arm64; ARM64_REBUILD=1
#    makes it again).
# 2. In the root: a fresh `git clone` of this repository (committed files only; uncommitted
#    changes are not in a clone), then README command 1: `python3 -m venv .venv`,
#    `.venv/bin/pip install -q -e .` from PyPI (plus --report, to record the wheels it took),
#    `.venv/bin/lnet-edge infer -o runs/field`. The install must not bring torch.
# 3. The automatic choice must take the CPU int8 model for the Arm dot product. The emulated CPU
#    is qemu's default ("max"; ARM64_QEMU_CPU=cortex-a76 for one nearer a Jetson Orin's A78AE).
#    qemu-user leaves /proc/cpuinfo to the host kernel, so inside the root it lists the HOST's x86 flags,
#    which the choice (machine.cpu_facts) would read. The script reads the emulated CPU's
#    features from AT_HWCAP/AT_HWCAP2 (what an arm64 kernel reports in /proc/cpuinfo's Features
#    line), says what the raw /proc/cpuinfo would have made the choice do, and bind-mounts a
#    /proc/cpuinfo holding those features (and nothing else) for the run. Where the emulated
#    CPU lacks the dot product and the choice takes fp32, int8 is run again with
#    `--precision int8`, and the output says it was forced.
# 4. The same commit on x86 (its own clone and venv, pinned to the versions pip chose for arm64):
#    `infer --precision int8` and `--precision fp32`. The arm64 int8 mask must agree with the
#    x86 int8 mask on all but 0.5 % of pixels (ARM64_MAX_DISAGREE); fp32 is compared for
#    information.
# 5. bench/results/arm64_check.json (ARM64_RESULT): wall time of each step, pip freeze, wheels,
#    the CPU features seen, the choice and why, mask agreement and what differed.
#
# Exit status: 0 passed, 1 a step or a check failed, 2 not runnable here (no root, missing tools,
# no binfmt support for aarch64). Whatever the exit path (Ctrl-C included), nothing stays
# mounted in the root. Emulation is slow: on a busy 2-core machine building the root took 65 min
# (downloads included) and a run with the cached root 7 min, 4.6 of them the emulated infer.
# CPU-heavy steps run under `nice -n 19`.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ARM64_CACHE:-/var/tmp/lnet-edge-arm64}
ROOT=$CACHE/root
SUITE=${ARM64_SUITE:-bookworm}
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
RESULT=${ARM64_RESULT:-$REPO/bench/results/arm64_check.json}
MAX_DISAGREE=${ARM64_MAX_DISAGREE:-0.005}
INCLUDE=python3,python3-venv,git,ca-certificates
WORK=$CACHE/work
LOGS=$WORK/logs
STEPS=$WORK/steps.tsv
SRC_IN_ROOT=/root/lnet-edge
X86=$CACHE/x86
README_CMD='python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/lnet-edge infer -o runs/field'
AARCH64_MAGIC=7f454c460201010000000000000000000200b700
NICE=(nice -n 19)
STARTED=
LOCKED=

say() { printf '%s\n' "$*"; }
unrunnable() { say "arm64_check: $*" >&2; exit 2; }

# ---------------------------------------------------------------- cleanup on every exit path
unmount_root() {
    [[ -d $ROOT ]] || return 0
    local m
    # deepest first: /proc/cpuinfo before /proc, /dev/pts before /dev
    for m in $(awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "arm64_check: could not unmount $m" >&2
    done
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $LOCKED ]] || unmount_root
    if [[ -n $STARTED ]]; then
        write_report "$rc" "$CURRENT" || { say "arm64_check: could not write $RESULT" >&2; rc=1; }
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'say "arm64_check: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- can this machine run it?
[[ $(id -u) == 0 ]] || unrunnable "needs root (debootstrap, chroot and mounts): run 'sudo bash $0'"
missing=()
for tool in debootstrap qemu-aarch64-static chroot git python3 mount umount awk flock; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || unrunnable "missing ${missing[*]}: 'apt-get update && apt-get install -y qemu-user-static debootstrap binfmt-support git python3-venv'"
python3 -c 'import venv, ensurepip' 2>/dev/null || unrunnable "this python3 cannot make venvs (the x86 reference needs one): 'apt-get install -y python3-venv'"

aarch64_binfmt() {  # the enabled binfmt_misc entry that runs aarch64 ELF binaries, if any
    local f
    for f in /proc/sys/fs/binfmt_misc/*; do
        [[ -f $f && $f != */register && $f != */status ]] || continue
        grep -qx enabled "$f" && grep -q "^magic $AARCH64_MAGIC" "$f" && { say "$f"; return 0; }
    done
    return 1
}
if ! aarch64_binfmt >/dev/null; then
    # what systemd-binfmt does at boot where it did not run (containers, minimal VMs)
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    fi
    if command -v update-binfmts >/dev/null && [[ -e /proc/sys/fs/binfmt_misc/register ]]; then
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
    binfmt_entry=$(aarch64_binfmt) || unrunnable "no binfmt_misc support for aarch64 binaries here (kernel binfmt_misc mounted at /proc/sys/fs/binfmt_misc with a qemu-aarch64 entry enabled): 'apt-get install -y qemu-user-static binfmt-support', then 'update-binfmts --enable qemu-aarch64'; in a container, the host must provide it"
    say "binfmt_misc: enabled $binfmt_entry for aarch64 binaries"
fi
BINFMT_ENTRY=$(aarch64_binfmt)
BINFMT_INTERP=$(awk '$1 == "interpreter" {print $2}' "$BINFMT_ENTRY")
BINFMT_FLAGS=$(awk '$1 == "flags:" {print $2}' "$BINFMT_ENTRY")

# ---------------------------------------------------------------- steps
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || unrunnable "another arm64_check is running on $CACHE"
LOCKED=1
unmount_root  # what a run killed outright may have left
rm -rf "$WORK"
mkdir -p "$LOGS"
: >"$STEPS"
STARTED=1
CURRENT=

# step NAME FUNCTION [ARGS...]: run it with its output in $LOGS/NAME.log, record its wall time;
# a failure ends the script (exit 1) after the log's tail
step() {
    local name=$1 t0 t1 rc
    shift
    CURRENT=$name
    printf '%-22s ' "$name"
    t0=$(date +%s.%N)
    set +e
    (set -e; "$@") >"$LOGS/$name.log" 2>&1
    rc=$?
    set -e
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >>"$STEPS"
    if ((rc != 0)); then
        say "FAILED after ${secs} s (rc $rc); the end of $LOGS/$name.log:"
        tail -n 25 "$LOGS/$name.log" | sed 's/^/    /'
        exit 1
    fi
    say "${secs} s"
}

# in_root 'COMMAND LINE': run it in the arm64 root with a clean environment (no host pip config);
# TLS trusts the host's CA bundle (HOST_CA, which holds any proxy CA the host trusts), and the
# host's proxy variables pass through
HOST_CA=/etc/ssl/certs/host-ca-certificates.crt
in_root() {
    local proxies=() v
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [[ -z ${!v:-} ]] || proxies+=("$v=${!v}")
    done
    [[ -z ${ARM64_QEMU_CPU:-} ]] || proxies+=("QEMU_CPU=$ARM64_QEMU_CPU")
    "${NICE[@]}" chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 PIP_NO_INPUT=1 \
        PIP_CERT=$HOST_CA SSL_CERT_FILE=$HOST_CA "${proxies[@]}" \
        /bin/sh -c "$1"
}

bootstrap() {
    local stamp="$SUITE arm64 minbase $INCLUDE $MIRROR"
    if [[ -z ${ARM64_REBUILD:-} && -f $ROOT/.lnet-edge-root && $(cat "$ROOT/.lnet-edge-root") == "$stamp" ]]; then
        say "cached root $ROOT ($stamp)"
        echo cached >"$WORK/root_cached"
        return 0
    fi
    unmount_root
    remove_root
    local t0=$SECONDS
    "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase --foreign --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR"
    # for binfmt entries without the F flag, which look the interpreter up inside the root
    install -D -m 755 "$(command -v qemu-aarch64-static)" "$ROOT/usr/bin/qemu-aarch64-static"
    [[ $BINFMT_FLAGS == *F* || -z $BINFMT_INTERP ]] || install -D -m 755 "$(command -v qemu-aarch64-static)" "$ROOT$BINFMT_INTERP"
    "${NICE[@]}" chroot "$ROOT" /debootstrap/debootstrap --second-stage
    unmount_root  # the second stage may leave its /proc and /sys behind
    apt_clean
    echo "$stamp" >"$ROOT/.lnet-edge-root"
    printf '{"seconds": %s, "finished": "%s"}\n' $((SECONDS - t0)) "$(date -Iseconds)" >"$ROOT/.lnet-edge-root-built"
}

remove_root() {  # never through a mount: a bind-mounted /dev or /sys must not be emptied
    if awk -v r="$ROOT" 'index($2, r "/") == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
        say "$ROOT still has mounts under it; not removing it"
        return 1
    fi
    rm -rf --one-file-system "$ROOT"
}

apt_clean() { rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*_Packages 2>/dev/null || true; }

# /proc and /dev only. The host's /sys stays out: ONNX Runtime's cpuinfo reads the CPU topology
# there, and under emulation the host's x86 one makes `import onnxruntime` die of SIGSEGV; without
# it ONNX Runtime says cpuinfo failed and takes the CPU's features from AT_HWCAP/AT_HWCAP2.
mount_root() {
    mount -t proc proc "$ROOT/proc"
    mount --rbind /dev "$ROOT/dev"
    mount --make-rslave "$ROOT/dev"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT$HOST_CA"
    in_root 'echo "$(uname -m), Debian $(cat /etc/debian_version), $(python3 -c "import platform; print(\"Python\", platform.python_version(), *platform.libc_ver())")"'
}

# The emulated CPU as a program sees it: the arch, the flags line of /proc/cpuinfo and AT_HWCAP*.
probe_cpu() {
    cat >"$ROOT/root/cpu_probe.py" <<'EOF'
import ctypes, json, os, platform, re
# bit n of AT_HWCAP / AT_HWCAP2 -> the name an arm64 kernel prints in /proc/cpuinfo (uapi/asm/hwcap.h)
HWCAP = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc "
         "dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg").split()
HWCAP2 = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm "
          "svebf16 i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme smei16i64 smef64f64 smei8i32 smef16f32 "
          "smeb16f32 smef32f32 smefa64").split()
libc = ctypes.CDLL(None)
libc.getauxval.restype, libc.getauxval.argtypes = ctypes.c_ulong, [ctypes.c_ulong]
hw, hw2 = libc.getauxval(16), libc.getauxval(26)  # AT_HWCAP, AT_HWCAP2
names = lambda v, table, tag: [table[i] if i < len(table) else f"{tag}_bit{i}" for i in range(64) if v >> i & 1]
info = open("/proc/cpuinfo").read()
line = re.search(r"^(flags|Features)\s*:\s*(.+)$", info, re.M)
model = re.search(r"^(model name|Model|Hardware)\s*:\s*(.+)$", info, re.M)
print(json.dumps({
    "machine": platform.machine(),
    "hwcap": hex(hw), "hwcap2": hex(hw2),
    "features": names(hw, HWCAP, "hwcap") + names(hw2, HWCAP2, "hwcap2"),
    "proc_cpuinfo_key": line.group(1) if line else None,
    "proc_cpuinfo_flags": line.group(2).split() if line else [],
    "proc_cpuinfo_model": model.group(2).strip() if model else None,
    "cpus": os.cpu_count(),
}, indent=1))
EOF
    in_root 'python3 /root/cpu_probe.py' >"$WORK/cpu_probe.json"
    cat "$WORK/cpu_probe.json"
}

clone() {
    rm -rf "$ROOT$SRC_IN_ROOT"
    git clone --quiet --no-hardlinks "$REPO" "$ROOT$SRC_IN_ROOT"
    git -C "$ROOT$SRC_IN_ROOT" rev-parse HEAD | tee "$WORK/commit"
    git -C "$REPO" status --porcelain | wc -l | tr -d ' ' >"$WORK/uncommitted"
}

# README command 1, in three timed parts
arm_venv() { in_root "cd $SRC_IN_ROOT && python3 -m venv .venv"; }
arm_pip() {
    in_root "cd $SRC_IN_ROOT && .venv/bin/pip install -q -e . --report /root/pip-report.json"
    cp "$ROOT/root/pip-report.json" "$WORK/pip-report.json"
    in_root "cd $SRC_IN_ROOT && .venv/bin/pip freeze --all" | tee "$WORK/freeze.txt"
    if grep -qiE '^(torch|torchvision)([=@ ]|$)' "$WORK/freeze.txt"; then
        say "the inference install pulled torch"
        return 1
    fi
}

# what the project's own code reads and chooses (machine.cpu_facts, field.choice)
choice_probe() {
    local out=$1
    cat >"$ROOT/root/choice_probe.py" <<'EOF'
import json, sys
from pathlib import Path
import lnet_edge
from lnet_edge.machine import cpu_facts
out = {"cpu_facts": cpu_facts()}
try:
    from lnet_edge.bundle import read_bundle
    from lnet_edge.field.choice import choose, here
    machine = here()
    out["here"] = repr(machine)
    out["choice"] = choose(read_bundle(Path(lnet_edge.__file__).parent / "assets" / "default"), machine).describe()
except Exception as e:  # another version of the code: say so, do not fail the probe
    out["choice_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out, indent=1))
EOF
    in_root "cd $SRC_IN_ROOT && .venv/bin/python /root/choice_probe.py" >"$WORK/$out"
    cat "$WORK/$out"
}

# /proc/cpuinfo with the emulated CPU's features, where the root shows the host's
give_cpuinfo() {
    python3 - "$WORK/cpu_probe.json" "$WORK/cpuinfo.arm64" <<'EOF'
import json, sys
probe = json.load(open(sys.argv[1]))
features = " ".join(probe["features"])
with open(sys.argv[2], "w") as f:
    for n in range(probe["cpus"] or 1):
        f.write(f"processor\t: {n}\nFeatures\t: {features}\n\n")
EOF
    mount --bind "$WORK/cpuinfo.arm64" "$ROOT/proc/cpuinfo"
    mount -o remount,bind,ro "$ROOT/proc/cpuinfo" 2>/dev/null || true
    echo synthesized >"$WORK/cpuinfo_given"
    in_root 'cat /proc/cpuinfo | head -n 3'
}

arm_infer() { in_root "cd $SRC_IN_ROOT && rm -rf runs/field && .venv/bin/lnet-edge infer -o runs/field"; }
arm_infer_int8() { in_root "cd $SRC_IN_ROOT && rm -rf runs/field-int8 && .venv/bin/lnet-edge infer -o runs/field-int8 --precision int8"; }

x86_install() {
    rm -rf "$X86"
    mkdir -p "$X86"
    git clone --quiet --no-hardlinks "$REPO" "$X86/src"
    git -C "$X86/src" checkout --quiet "$(cat "$WORK/commit")"
    grep -viE '^(-e |lnet-edge|lnet_edge)' "$WORK/freeze.txt" | grep -vE '^(pip|setuptools|wheel)==' >"$WORK/x86-constraints.txt" || true
    cd "$X86/src"
    "${NICE[@]}" python3 -m venv .venv
    "${NICE[@]}" .venv/bin/pip install -q -e . -c "$WORK/x86-constraints.txt"
    "$X86/src/.venv/bin/pip" freeze --all >"$WORK/x86-freeze.txt"
}
x86_infer() {  # x86_infer PRECISION
    cd "$X86/src"
    "${NICE[@]}" .venv/bin/lnet-edge infer -o "$WORK/x86-$1" --precision "$1"
}

compare() {
    "$X86/src/.venv/bin/python" - "$WORK" >"$WORK/compare.json" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
import rasterio

work = Path(sys.argv[1])
NODATA = 255  # of the mask (0/1) and probability (0..100 %) rasters
def outputs(folder):
    summary = next(Path(folder).glob("*/*_summary.json"))
    s = json.loads(summary.read_text())
    return s, summary.parent / s["outputs"]["mask"], summary.parent / s["outputs"]["probability"]

def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs

runs = {name: outputs(work / name) for name in ("arm64", "x86-int8", "x86-fp32")}
out = {"runs": {}, "pairs": {}}
for name, (s, mask, prob) in runs.items():
    out["runs"][name] = {k: s.get(k) for k in ("backend", "precision", "choice", "landslide_count",
                         "landslide_area_m2", "seconds", "model_seconds", "tiles")}
for a, b in (("arm64", "x86-int8"), ("arm64", "x86-fp32"), ("x86-int8", "x86-fp32")):
    (ma, ta, ca), (mb, tb, cb) = read(runs[a][1]), read(runs[b][1])
    (pa, _, _), (pb, _, _) = read(runs[a][2]), read(runs[b][2])
    same_grid = ma.shape == mb.shape and ta == tb and ca == cb
    pair = {"same_grid": bool(same_grid)}
    if same_grid:
        la, lb = ma == 1, mb == 1  # mask: 0/1, nodata 255
        diff = int((ma != mb).sum())
        both = (ma != NODATA) & (mb != NODATA)
        dp = np.abs(pa.astype(np.float64) - pb.astype(np.float64))[both & (pa != NODATA) & (pb != NODATA)]
        pair.update({
            "pixels": int(ma.size),
            "differing_pixels": diff,
            "differing_fraction": diff / ma.size,
            "nodata_pixels": [int((ma == NODATA).sum()), int((mb == NODATA).sum())],
            "landslide_pixels": [int(la.sum()), int(lb.sum())],
            "landslide_iou": float((la & lb).sum() / max(1, (la | lb).sum())),
            "probability_pixels_differing": int((dp > 0).sum()),
            "probability_max_abs_diff_percent": float(dp.max()) if dp.size else 0.0,
            "probability_mean_abs_diff_percent": float(dp.mean()) if dp.size else 0.0,
        })
    out["pairs"][f"{a} vs {b}"] = pair
print(json.dumps(out, indent=1))
EOF
    cat "$WORK/compare.json"
}

# ---------------------------------------------------------------- the report
write_report() {
    python3 - "$1" "$2" <<EOF
import json, platform, subprocess, sys, time
from pathlib import Path

rc, current = int(sys.argv[1]), sys.argv[2]
work, result = Path("$WORK"), Path("$RESULT")
max_disagree = float("$MAX_DISAGREE")
def load(name, default=None):
    p = work / name
    try:
        return json.loads(p.read_text()) if p.suffix == ".json" else p.read_text().strip()
    except (OSError, ValueError):
        return default

def load_path(p):
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None

steps = []
for line in (work / "steps.tsv").read_text().splitlines():
    name, code, secs = line.split("\t")
    steps.append({"step": name, "seconds": float(secs), "ok": code == "0"})
if (work / "root_cached").exists():
    steps[[s["step"] for s in steps].index("bootstrap")]["cached"] = True

report = pip = load("pip-report.json", {})
wheels, built = [], []
for item in (pip or {}).get("install", []):
    meta, url = item.get("metadata", {}), item.get("download_info", {}).get("url", "")
    entry = {"name": meta.get("name"), "version": meta.get("version"), "file": url.rsplit("/", 1)[-1]}
    if url.startswith("file:"):
        entry["file"] = "(this checkout, editable)"
    elif not entry["file"].endswith(".whl"):
        built.append(entry["name"])
    wheels.append(entry)

probe = load("cpu_probe.json", {})
raw, seen = load("choice_raw.json", {}), load("choice_seen.json", {})
cmp_ = load("compare.json", {})
forced = (work / "forced").exists()
freeze = (load("freeze.txt", "") or "").splitlines()

checks, differences = {}, []
if pip:
    checks["no_torch"] = not any(l.lower().startswith(("torch==", "torch @")) for l in freeze)
    checks["all_binary_wheels"] = not built
arm = (cmp_.get("runs") or {}).get("arm64", {})
if arm:
    choice = arm.get("choice") or ""
    checks["choice_int8_for_arm_dot_product"] = (
        not forced and arm.get("precision") in ("int8", "int8-cpu") and "Arm dot product" in choice
    )
pair = (cmp_.get("pairs") or {}).get("arm64 vs x86-int8")
if pair:
    checks["mask_agrees_with_x86_int8"] = bool(pair.get("same_grid")) and pair["differing_fraction"] <= max_disagree
for name, p in (cmp_.get("pairs") or {}).items():
    if p.get("same_grid") is False:
        differences.append(f"{name}: the masks are on different grids")
    elif p.get("differing_pixels"):
        differences.append(
            f"{name}: {p['differing_pixels']} of {p['pixels']} mask pixels differ "
            f"({100 * p['differing_fraction']:.3f} %), landslide IoU {p['landslide_iou']:.4f}, "
            f"probability max |diff| {p['probability_max_abs_diff_percent']:.0f} %"
        )
    elif p:
        differences.append(f"{name}: identical masks (probability max |diff| {p['probability_max_abs_diff_percent']:.0f} %)")
runs = cmp_.get("runs") or {}
for key in ("landslide_count", "landslide_area_m2"):
    vals = {k: v.get(key) for k, v in runs.items()}
    if len(set(map(str, vals.values()))) > 1:
        differences.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in vals.items()))
flags_raw = (raw.get("cpu_facts") or {}).get("flags")
if probe and probe.get("proc_cpuinfo_key") == "flags" and flags_raw is not None:
    differences.append(
        "inside the root /proc/cpuinfo is the host's (x86 'flags' line); the project's cpu_facts read "
        f"{flags_raw} from it" + (f" and the choice said: {raw['choice']}" if raw.get("choice") else "")
    )
logs = work / "logs"
cpuinfo_errors = sorted({l.strip() for f in logs.glob("*.log") if f.name.startswith(("arm_infer", "choice"))
                         for l in f.read_text(errors="replace").splitlines() if "cpuinfo" in l.lower()})

failed = next((s["step"] for s in steps if not s["ok"]), current if rc else None)
status = "passed" if rc == 0 and checks and all(checks.values()) else "interrupted" if rc in (130, 143) else "failed"
out = {
    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "command": "sudo bash scripts/arm64_check.sh",
    "status": status,
    "exit_status": rc,
    "failed_step": failed if rc else None,
    "checks": checks,
    "host": {
        "machine": platform.machine(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None),
        "kernel": platform.release(),
        "qemu": subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
        "binfmt": {"entry": "$BINFMT_ENTRY", "interpreter": "$BINFMT_INTERP", "flags": "$BINFMT_FLAGS"},
    },
    "root": {"suite": "$SUITE", "mirror": "$MIRROR", "variant": "minbase", "include": "$INCLUDE",
             "path": "$ROOT", "cached": (work / "root_cached").exists(),
             "built": load_path(Path("$ROOT/.lnet-edge-root-built")),
             "about": load("logs/mount.log")},
    "source": {
        "commit": load("commit"),
        "note": f"a git clone of the committed tree; the working copy had {load('uncommitted', '?')} "
                "uncommitted changes, which are not in it",
    },
    "readme_command": "$README_CMD",
    "steps": steps,
    "total_seconds": round(sum(s["seconds"] for s in steps), 1),
    "pip_freeze": freeze,
    "wheels": wheels,
    "built_from_source": built,
    "emulated_cpu": {
        "qemu_cpu_model": "${ARM64_QEMU_CPU:-qemu-aarch64 default (max)}",
        "onnxruntime_sees": "without /sys ONNX Runtime's cpuinfo fails and it reads AT_HWCAP/AT_HWCAP2 (dot product, "
                            "i8mm, bf16) itself, not /proc/cpuinfo",
        "hwcap": probe.get("hwcap"), "hwcap2": probe.get("hwcap2"),
        "features_from_hwcap": probe.get("features"),
        "asimddp": "asimddp" in (probe.get("features") or []),
        "proc_cpuinfo_in_root": (
            None if not probe else
            "the host's x86 /proc/cpuinfo ('flags' line, model " + str(probe.get("proc_cpuinfo_model")) + ")"
            if probe.get("proc_cpuinfo_key") == "flags" else "arm64 ('Features' line)"
        ),
        "proc_cpuinfo_given": (
            "a /proc/cpuinfo bind-mounted over the host's, listing the features of AT_HWCAP/AT_HWCAP2 "
            "(processor and Features lines only)" if (work / "cpuinfo_given").exists() else "left as it was"
        ),
        "onnxruntime_cpuinfo_messages": cpuinfo_errors,
    },
    "choice": {
        "with_raw_proc_cpuinfo": raw,
        "with_given_proc_cpuinfo": seen or None,
        "run": {k: arm.get(k) for k in ("backend", "precision", "choice")} if arm else None,
        "forced_int8": forced,
    },
    "masks": cmp_.get("pairs"),
    "max_disagree_fraction": max_disagree,
    "runs": runs,
    "notes": [
        "the host's /sys is not mounted in the root: with it (x86 CPU topology), 'import onnxruntime' "
        "died of SIGSEGV under qemu-aarch64 (ONNX Runtime's cpuinfo reads /sys/devices/system/cpu)",
        "README command 1 runs as three timed steps (arm_venv, arm_pip_install, arm_infer); pip also gets "
        "--report to record the files it installed",
        "pip's cache stays in the cached root (/root/.cache/pip), so later runs download less",
    ],
    "x86_reference": "the same commit in its own venv on this machine, pinned to the arm64 versions "
                     "(infer --precision int8, --precision fp32)",
    "differences": differences,
}
result.parent.mkdir(parents=True, exist_ok=True)
result.write_text(json.dumps(out, indent=1) + "\n")

print()
print(f"arm64 check: {status}" + (f" (in step {failed})" if rc and failed else ""))
built_s = (out["root"]["built"] or {}).get("seconds")
for s in steps:
    cached = " (cached" + (f"; built in {built_s} s" if built_s else "") + ")" if s.get("cached") else ""
    print(f"  {s['step']:<22} {s['seconds']:>8.1f} s" + cached + ("" if s["ok"] else "  FAILED"))
if wheels:
    n = sum(w["file"].endswith(".whl") for w in wheels)
    print(f"  installed: {n} wheels and this checkout" + (f"; built from source: {', '.join(built)}" if built else "; nothing built from source"))
if probe:
    print(f"  emulated CPU: asimddp {'yes' if out['emulated_cpu']['asimddp'] else 'NO'}; /proc/cpuinfo in the root: {out['emulated_cpu']['proc_cpuinfo_in_root']}")
if arm:
    print(f"  choice: {arm.get('choice')}" + ("  [int8 FORCED with --precision int8]" if forced else ""))
for d in differences:
    print(f"  {d}")
for k, v in checks.items():
    print(f"  check {k}: {'ok' if v else 'FAILED'}")
print(f"  written: {result}")
EOF
}

# ---------------------------------------------------------------- run
say "arm64 check: root $ROOT ($SUITE), logs $LOGS"
step bootstrap bootstrap
step mount mount_root
step cpu_probe probe_cpu
step clone clone
step arm_venv arm_venv
step arm_pip_install arm_pip
step choice_raw choice_probe choice_raw.json
if grep -q '"proc_cpuinfo_key": "flags"' "$WORK/cpu_probe.json"; then
    say "  /proc/cpuinfo in the root is the host's x86 one: giving the run the emulated CPU's AT_HWCAP features instead"
    step cpuinfo give_cpuinfo
    step choice_seen choice_probe choice_seen.json
fi
step arm_infer arm_infer
cp -r "$ROOT$SRC_IN_ROOT/runs/field" "$WORK/arm64"
if ! grep -q '"precision": "int8' "$WORK"/arm64/*/*_summary.json; then
    say "  the automatic choice did not take int8 here; running int8 with --precision int8 (FORCED) for the comparison"
    touch "$WORK/forced"
    step arm_infer_int8 arm_infer_int8
    rm -rf "$WORK/arm64"
    cp -r "$ROOT$SRC_IN_ROOT/runs/field-int8" "$WORK/arm64"
fi
unmount_root
step x86_install x86_install
step x86_infer_int8 x86_infer int8
step x86_infer_fp32 x86_infer fp32
step compare compare
python3 - "$WORK/compare.json" "$MAX_DISAGREE" <<'EOF' || exit 1
import json, sys
pair = json.load(open(sys.argv[1]))["pairs"]["arm64 vs x86-int8"]
ok = pair.get("same_grid") and pair["differing_fraction"] <= float(sys.argv[2])
sys.exit(0 if ok else 1)
EOF
grep -q '"precision": "int8' "$WORK"/arm64/*/*_summary.json
[[ ! -e $WORK/forced ]]
