// Shared by the CPU and CUDA builds: no Python, no CUDA runtime calls.
#pragma once
#include <math.h>

#if defined(__CUDACC__)
#define KK_HD __host__ __device__
#else
#define KK_HD
#endif

// Header functions have internal linkage: the CPU build compiles them once per instruction
// set (baseline and AVX2+FMA), and shared inline symbols would let the linker mix the copies.
#define KK_FN KK_HD static inline
