#include "common/cpu.h"

#include <cstdlib>
#include <cstring>

namespace mb {
namespace {
bool detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}
bool detect_vnni() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();  // libgcc sets the AVX-512 features only when XCR0 enables the AVX-512 state
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}
bool initial_choice() {
  const char* s = std::getenv("MOSAICBERT_KERNEL");
  if (s && std::strcmp(s, "portable") == 0) return false;
  return cpu_has_avx2_fma();
}
bool g_use_avx2 = initial_choice();
}  // namespace

bool cpu_has_avx2_fma() {
  static bool has = detect();
  return has;
}

bool cpu_has_avx512vnni() {
  static bool has = cpu_has_avx2_fma() && detect_vnni();
  return has;
}

bool use_avx2() { return g_use_avx2; }

bool set_kernel_path(const char* path) {
  if (std::strcmp(path, "portable") == 0) { g_use_avx2 = false; return true; }
  if (std::strcmp(path, "avx2") == 0) {
    if (!cpu_has_avx2_fma()) return false;
    g_use_avx2 = true;
    return true;
  }
  if (std::strcmp(path, "auto") == 0) { g_use_avx2 = cpu_has_avx2_fma(); return true; }
  return false;
}

const char* kernel_path() { return g_use_avx2 ? "avx2" : "portable"; }

}  // namespace mb
