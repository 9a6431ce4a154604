// Token embeddings of MosaicBERT (the reference's `BertEmbeddings`): word + token-type lookup (there are
// no position embeddings; LayerNorm and dropout follow as separate kernels), and the scatter-add backward of one
// table with the PyTorch `nn.Embedding(padding_idx)` rule. See Kernels.embeddingForward/Backward in
// src/kernels/types.ts.
//
// Forward: out[r, :] = word[ids[r], :] + type[typeIds[r], :], one float32 add per element, parallel over rows;
// bit-identical on both paths and for any thread count.
// Backward: dTable[ids[r], :] += dOut[r, :] for every r with ids[r] != paddingIdx. Deterministic for any thread
// count: the hidden COLUMNS are split across threads (slices of whole 8-float groups) and every thread walks all
// rows in increasing r, so each element of dTable receives its additions in increasing r whatever the split.
// Every id is checked first (RangeError naming the row and the id); nothing is written on error.
#include <algorithm>
#include <string>

#include "common/args.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/rows/vec.h"

namespace mb {
namespace {

constexpr int64_t kSerialElems = 1 << 15;  // below this many output elements the forward runs serially
constexpr int64_t kMinCols = 64;           // backward: least columns per thread slice

void check_ids(const Args& a, const char* name, const int32_t* ids, int64_t n, int64_t vocab) {
  for (int64_t r = 0; r < n; ++r) {
    int64_t v = ids[r];
    if (v < 0 || v >= vocab)
      a.range_error(std::string(name) + "[" + std::to_string(r) + "] = " + std::to_string(v) + " is outside [0, " +
                    std::to_string(vocab) + ") (row " + std::to_string(r) + ")");
  }
}

// embeddingForward(ids, typeIds, n, hidden, wordEmb, vocab, typeEmb, typeVocab, out)
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward", 9);
  int64_t n = a.integer(2, "n", 0, INT32_MAX);
  int64_t hidden = a.integer(3, "hidden", 0, INT32_MAX);
  int64_t vocab = a.integer(5, "vocab", 0, INT32_MAX);
  int64_t type_vocab = a.integer(7, "typeVocab", 0, INT32_MAX);
  auto ids = a.i32(0, "ids", static_cast<size_t>(n));
  auto type_ids = a.i32(1, "typeIds", static_cast<size_t>(n));
  auto word = a.f32(4, "wordEmb", static_cast<size_t>(vocab * hidden));
  auto type = a.f32(6, "typeEmb", static_cast<size_t>(type_vocab * hidden));
  auto out = a.f32(8, "out", static_cast<size_t>(n * hidden));
  check_ids(a, "ids", ids.data, n, vocab);
  check_ids(a, "typeIds", type_ids.data, n, type_vocab);
  if (n == 0 || hidden == 0) return info.Env().Undefined();
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      vec_add(out.data + r * hidden, word.data + int64_t(ids.data[r]) * hidden,
              type.data + int64_t(type_ids.data[r]) * hidden, hidden);
  };
  if (n * hidden < kSerialElems || num_threads() == 1) rows(0, n);
  else parallel_range(n, [&](int64_t b, int64_t e, int) { rows(b, e); });
  return info.Env().Undefined();
}

// embeddingBackward(ids, n, hidden, dOut, dTable, vocab, paddingIdx)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward", 7);
  int64_t n = a.integer(1, "n", 0, INT32_MAX);
  int64_t hidden = a.integer(2, "hidden", 0, INT32_MAX);
  int64_t vocab = a.integer(5, "vocab", 0, INT32_MAX);
  int64_t pad = a.integer(6, "paddingIdx", -1, vocab > 0 ? vocab - 1 : -1);
  auto ids = a.i32(0, "ids", static_cast<size_t>(n));
  auto dout = a.f32(3, "dOut", static_cast<size_t>(n * hidden));
  auto dtable = a.f32(4, "dTable", static_cast<size_t>(vocab * hidden));
  check_ids(a, "ids", ids.data, n, vocab);
  if (n == 0 || hidden == 0) return info.Env().Undefined();
  // Column slice [c0, c1) for all rows, in increasing r.
  auto slice = [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < n; ++r) {
      int64_t id = ids.data[r];
      if (id == pad) continue;
      vec_acc(dtable.data + id * hidden + c0, dout.data + r * hidden + c0, c1 - c0);
    }
  };
  int64_t parts = std::min<int64_t>(num_threads(), hidden / kMinCols);
  if (parts <= 1 || n * hidden < kSerialElems) {
    slice(0, hidden);
  } else {
    int64_t groups = (hidden + 7) / 8;  // slice boundaries on 8-float groups
    parallel_for(parts, [&](int64_t p, int) {
      int64_t c0 = std::min(hidden, groups * p / parts * 8), c1 = std::min(hidden, groups * (p + 1) / parts * 8);
      if (c1 > c0) slice(c0, c1);
    });
  }
  return info.Env().Undefined();
}

MB_EXPORT("embeddingForward", EmbeddingForward);
MB_EXPORT("embeddingBackward", EmbeddingBackward);

}  // namespace
}  // namespace mb
