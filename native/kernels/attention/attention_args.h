// Argument parsing shared by the attention bindings (attention.cc, materialized.cc).
#pragma once
#include "common/args.h"
#include "kernels/attention/attention.h"

namespace mb {
namespace attn {

// Checks and reads the arguments of attentionForward (11: qkv, cuSeqlens, batch, numHeads, headDim, slopes,
// dropoutP, seed, stream, out, lse) or, with `backward`, attentionBackward (13: ... out, lse, dOut, dQkv):
// cuSeqlens[0] = 0 and non-decreasing, nnz = cuSeqlens[batch], every buffer long enough, dropoutP in [0, 1),
// sequences <= 2^20 tokens when dropout is on. Throws a TypeError/RangeError naming the argument.
Problem parse_problem(const Args& a, bool backward);

}  // namespace attn
}  // namespace mb
