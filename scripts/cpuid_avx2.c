/* Loaded with LD_PRELOAD by scripts/as_avx2.sh: hides AVX-512, VNNI, bf16 and AMX from the CPUID
 * instruction, so that libraries which choose their kernels from CPUID (ONNX Runtime's MLAS and
 * its cpuinfo) run their AVX2 kernels, as on a CPU that has AVX2 and nothing newer.
 *
 * It asks the kernel to fault on CPUID in this process (arch_prctl ARCH_SET_CPUID, Linux on a
 * CPU with the cpuid_fault flag), catches the fault, runs CPUID with faulting briefly lifted,
 * clears the hidden bits and steps over the instruction. Leaves 7.0 and 7.1 are the ones changed.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012

/* leaf 7, sub-leaf 0 */
#define EBX_HIDE ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
#define ECX_HIDE ((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14))
#define EDX_HIDE ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25))
/* leaf 7, sub-leaf 1: AVX-VNNI (4), AVX512_BF16 (5) */
#define EAX1_HIDE ((1u << 4) | (1u << 5))

static int set_cpuid(int enabled) { return (int)syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

static void on_segv(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = ctx;
    greg_t *r = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)r[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) { /* not CPUID: a real fault */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    unsigned int leaf = (unsigned int)r[REG_RAX], sub = (unsigned int)r[REG_RCX], a, b, c, d;
    set_cpuid(1);
    __cpuid_count(leaf, sub, a, b, c, d);
    set_cpuid(0);
    if (leaf == 7 && sub == 0) {
        b &= ~EBX_HIDE;
        c &= ~ECX_HIDE;
        d &= ~EDX_HIDE;
    } else if (leaf == 7 && sub == 1) {
        a &= ~EAX1_HIDE;
    }
    r[REG_RAX] = a;
    r[REG_RBX] = b;
    r[REG_RCX] = c;
    r[REG_RDX] = d;
    r[REG_RIP] += 2;
    (void)info;
}

__attribute__((constructor)) static void hide_avx512(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0 || set_cpuid(0) != 0) {
        fprintf(stderr, "cpuid_avx2: this kernel or CPU cannot fault on CPUID (no cpuid_fault flag)\n");
        _exit(3);
    }
}
