// Run-time choice between the AVX2+FMA kernels and the portable ones. The AVX2 path is used when the CPU has
// AVX2 and FMA, unless MOSAICBERT_KERNEL=portable is set or setKernelPath('portable') was called (tests run
// both paths).
#pragma once

namespace mb {

bool cpu_has_avx2_fma();
// AVX-512 VNNI with AVX512F/BW/VL, enabled by the OS (VPDPBUSD on ymm registers; used inside the AVX2 path by the
// int8 kernels when present, see kernels/quant/qlinear_avx2.cc).
bool cpu_has_avx512vnni();
// True when kernels should take their AVX2+FMA path.
bool use_avx2();
// Selects the path: "avx2" (fails if the CPU lacks it), "portable", or "auto". Returns false if unavailable.
bool set_kernel_path(const char* path);
const char* kernel_path();

}  // namespace mb
