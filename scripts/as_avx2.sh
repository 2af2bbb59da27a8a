#!/usr/bin/env bash
# Runs COMMAND as on an x86 CPU with AVX2 and nothing newer (no AVX-512, VNNI, bf16 or AMX):
# scripts/cpuid_avx2.c hides them from the CPUID instruction (ONNX Runtime picks its kernels from
# it) and a private mount of /proc/cpuinfo without those flags shows lnet-edge (lnet_edge/machine.py)
# the same CPU. The kernels that run are the real AVX2 ones, on this machine's cores: a stand-in
# for an AVX2 CPU's instruction set, not for its timing.
# Needs root (a private mount namespace) and a CPU with the cpuid_fault flag.
# Usage: scripts/as_avx2.sh COMMAND [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -eq 0 ]; then echo "usage: scripts/as_avx2.sh COMMAND [ARGS...]" >&2; exit 2; fi
if [ "$(id -u)" != 0 ]; then echo "scripts/as_avx2.sh: needs root for a private mount of /proc/cpuinfo" >&2; exit 2; fi
if ! grep -qw cpuid_fault /proc/cpuinfo; then
  echo "scripts/as_avx2.sh: this CPU or hypervisor cannot fault on CPUID (no cpuid_fault in /proc/cpuinfo)" >&2; exit 2
fi
if ! grep -qw avx2 /proc/cpuinfo; then echo "scripts/as_avx2.sh: this CPU has no AVX2" >&2; exit 2; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/cpuid_avx2.so" "$here/cpuid_avx2.c"
hide=' (avx512[a-z0-9_]*|avx_vnni|amx_[a-z0-9]*)\b'
sed -E "/^flags/ s/$hide//g" /proc/cpuinfo > "$work/cpuinfo"
# what was hidden, for the records made under this view (lnet_edge/cpu_int8.py cpu_view)
hidden=$(grep -m1 '^flags' /proc/cpuinfo | grep -oE "$hide" | tr -d ' ' | tr '\n' ' ')
model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
export LNET_EDGE_AS_AVX2="$model, with ${hidden% } hidden"
# the mount lives and dies with the private namespace: nothing stays mounted after COMMAND
unshare --mount --propagation private bash -c 'mount --bind "$1" /proc/cpuinfo && shift && LD_PRELOAD="$0" exec "$@"' \
  "$work/cpuid_avx2.so" "$work/cpuinfo" "$@"
