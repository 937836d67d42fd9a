#ifndef CLEAVE_PAUSE_SHIM_H
#define CLEAVE_PAUSE_SHIM_H
// A spin-wait hint: on x86 `pause` lets the core's other hardware thread
// (a virtual machine's second vCPU may be one) run at full speed while this
// one polls. Swift has no way to emit it.
static inline void cleave_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
