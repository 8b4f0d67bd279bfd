// Shared by the CPU and CUDA builds: no Python, no CUDA runtime calls.
#pragma once
#include <math.h>

#if defined(__CUDACC__)
#define KK_HD __host__ __device__
#else
#define KK_HD
#endif
