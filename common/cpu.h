/* cpu: the spin-wait hint for the layers that do not link DPDK (the node core, common/).
 *
 * The DPDK side of the tree uses rte_pause() (rte_pause.h); the node core has no DPDK by
 * design (a TCP-only node, the agent's BEAM side), so its one pre-sleep spin loop
 * (runtime mbox_wait) uses this instead: the same instruction (x86 PAUSE, arm64 YIELD),
 * which tells the core a spin loop is running (it saves power and gives a hyperthread
 * sibling the pipeline). The only copy outside DPDK: add architectures here.
 */
#ifndef DPDIST_COMMON_CPU_H
#define DPDIST_COMMON_CPU_H

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
