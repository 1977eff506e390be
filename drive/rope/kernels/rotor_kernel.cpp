// Two CPU kernels of the RoPE core, each one call where eager PyTorch launches several small kernels:
//
// rope_angles: angle[m, h, s] = sum_a F[h, s, a] p[m, a], products and sum in fp64 (products of fp32
// values are exact there), rounded once to the output dtype: the formula of drive/rope/angles.py.
//
// rotate_query_key_: rotary rotation of queries and keys in one pass, in place: for every token row, head and slot s,
// channel pair (2s, 2s + 1) of the head is multiplied by the unit complex number e^{±i angle}.
//
// Same arithmetic as the eager rotor path (drive/rope/rotor.py): cos and sin of the angle in the
// angle's precision, then a complex product, so the two agree to rounding. One call replaces about a
// dozen eager kernels (cos, sin, complex, views, two products), whose fixed cost, not the arithmetic,
// dominates layers of a few dozen tokens. With one angle table for both (self-attention), each sine and
// cosine is computed once and applied to the query and the key row.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

namespace {

inline void sin_cos(float angle, float* s, float* c) { ::sincosf(angle, s, c); }
inline void sin_cos(double angle, double* s, double* c) { ::sincos(angle, s, c); }

// Rotate `rows` rows of `x` (row stride `row_width` = heads * head_dim) and, when `y` is not null, the
// same rows of `y`, by `angle [rows, angle_heads, slots]` (angle_heads = heads, or 1 for all heads). With
// `cos_all` / `sin_all` (tables of angle's shape) the sines and cosines are read, else computed per row.
template <typename T>
void rotate_rows(T* x, T* y, int64_t rows, int64_t heads, int64_t head_dim, const T* angle,
                 const T* cos_all, const T* sin_all, int64_t angle_heads, int64_t slots, bool inverse) {
  const int64_t row_width = heads * head_dim, per_row = angle_heads * slots;
  std::vector<T> cos_row(per_row), sin_row(per_row);
  for (int64_t r = 0; r < rows; ++r) {
    const T* cos_table = cos_row.data();
    const T* sin_table = sin_row.data();
    if (cos_all != nullptr) {
      cos_table = cos_all + r * per_row;
      sin_table = sin_all + r * per_row;
    } else {
      const T* a = angle + r * per_row;
      for (int64_t i = 0; i < per_row; ++i) sin_cos(a[i], &sin_row[i], &cos_row[i]);
    }
    const T sign = inverse ? T(-1) : T(1);
    for (T* base : {x, y}) {
      if (base == nullptr) continue;
      T* row = base + r * row_width;
      for (int64_t h = 0; h < heads; ++h) {
        T* pair = row + h * head_dim;
        const int64_t table = (angle_heads == 1 ? 0 : h) * slots;
        for (int64_t s = 0; s < slots; ++s) {
          const T c = cos_table[table + s], sn = sign * sin_table[table + s];
          const T re = pair[2 * s], im = pair[2 * s + 1];
          pair[2 * s] = re * c - im * sn;
          pair[2 * s + 1] = re * sn + im * c;
        }
      }
    }
  }
}

// Above this many angles, ATen's vectorised (and multithreaded) cos and sin fill the tables: two kernel
// calls beat one scalar sincos per angle (about 3.4 ns each) from a few thousand angles on.
constexpr int64_t kTableThreshold = 2048;

template <typename P, typename F, typename T>
void angles_kernel(const P* positions, const F* frequencies, T* out, int64_t rows, int64_t table,
                   int64_t axes) {
  for (int64_t r = 0; r < rows; ++r) {
    const P* p = positions + r * axes;
    T* o = out + r * table;
    for (int64_t i = 0; i < table; ++i) {
      const F* f = frequencies + i * axes;
      double sum = 0.0;
      for (int64_t a = 0; a < axes; ++a) sum += static_cast<double>(p[a]) * static_cast<double>(f[a]);
      o[i] = static_cast<T>(sum);
    }
  }
}

template <typename P, typename F>
void angles_dispatch_out(const at::Tensor& positions, const at::Tensor& frequencies, at::Tensor& out) {
  const int64_t axes = frequencies.size(2), table = frequencies.size(0) * frequencies.size(1);
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < positions.dim(); ++d) rows *= positions.size(d);
  if (out.scalar_type() == at::kDouble) {
    angles_kernel(positions.data_ptr<P>(), frequencies.data_ptr<F>(), out.data_ptr<double>(), rows, table, axes);
  } else {
    angles_kernel(positions.data_ptr<P>(), frequencies.data_ptr<F>(), out.data_ptr<float>(), rows, table, axes);
  }
}

at::Tensor rope_angles(const at::Tensor& positions_in, const at::Tensor& frequencies_in) {
  TORCH_CHECK(positions_in.device().is_cpu() && frequencies_in.device().is_cpu(), "CPU tensors only");
  TORCH_CHECK(frequencies_in.dim() == 3, "frequencies must be [H, S, A]");
  TORCH_CHECK(positions_in.dim() >= 1 && positions_in.size(-1) == frequencies_in.size(2),
              "positions must be [..., A]");
  const auto is_float = [](const at::Tensor& t) {
    return t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble;
  };
  TORCH_CHECK(is_float(positions_in) && is_float(frequencies_in), "fp32 or fp64 positions and frequencies");
  const at::Tensor positions = positions_in.contiguous(), frequencies = frequencies_in.contiguous();
  const bool wide = positions.scalar_type() == at::kDouble || frequencies.scalar_type() == at::kDouble;
  std::vector<int64_t> shape(positions.sizes().begin(), positions.sizes().end() - 1);
  shape.push_back(frequencies.size(0));
  shape.push_back(frequencies.size(1));
  at::Tensor out = at::empty(shape, positions.options().dtype(wide ? at::kDouble : at::kFloat));
  const bool p64 = positions.scalar_type() == at::kDouble, f64 = frequencies.scalar_type() == at::kDouble;
  if (p64 && f64) angles_dispatch_out<double, double>(positions, frequencies, out);
  else if (p64) angles_dispatch_out<double, float>(positions, frequencies, out);
  else if (f64) angles_dispatch_out<float, double>(positions, frequencies, out);
  else angles_dispatch_out<float, float>(positions, frequencies, out);
  return out;
}

void check(const at::Tensor& x, const at::Tensor& angle, int64_t heads, const char* name) {
  TORCH_CHECK(x.device().is_cpu() && angle.device().is_cpu(), name, ": CPU tensors only");
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), name, " must be a contiguous [M, H*Dh] tensor");
  TORCH_CHECK(angle.dim() == 3 && angle.is_contiguous(), name, " angle must be a contiguous [M, H | 1, S]");
  TORCH_CHECK(angle.size(0) == x.size(0), name, " angle has ", angle.size(0), " rows for ", x.size(0));
  TORCH_CHECK(angle.size(1) == heads || angle.size(1) == 1, name, " angle must have H or 1 heads");
  TORCH_CHECK(x.size(1) % heads == 0 && 2 * angle.size(2) <= x.size(1) / heads,
              name, ": S pairs must fit a head");
  TORCH_CHECK(angle.scalar_type() == x.scalar_type(), name, " and its angle must share a dtype");
}

void rotate_query_key_(at::Tensor& q, at::Tensor& k, const std::optional<at::Tensor>& query_angle,
                       const std::optional<at::Tensor>& key_angle, int64_t num_heads, bool inverse) {
  TORCH_CHECK(q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble, "fp32 or fp64 only");
  if (query_angle) check(q, *query_angle, num_heads, "q");
  if (key_angle) check(k, *key_angle, num_heads, "k");
  const bool shared = query_angle && key_angle && query_angle->is_same(*key_angle) && q.size(0) == k.size(0);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "rotate_query_key_", [&] {
    auto run = [&](at::Tensor& x, at::Tensor* y, const at::Tensor& angle) {
      at::Tensor cos_all, sin_all;
      if (angle.numel() >= kTableThreshold) {
        cos_all = angle.cos();
        sin_all = angle.sin();
      }
      rotate_rows<scalar_t>(x.data_ptr<scalar_t>(), y ? y->data_ptr<scalar_t>() : nullptr, x.size(0),
                            num_heads, x.size(1) / num_heads, angle.data_ptr<scalar_t>(),
                            cos_all.defined() ? cos_all.data_ptr<scalar_t>() : nullptr,
                            sin_all.defined() ? sin_all.data_ptr<scalar_t>() : nullptr, angle.size(1),
                            angle.size(2), inverse);
    };
    if (shared) {
      run(q, &k, *query_angle);
      return;
    }
    if (query_angle) run(q, nullptr, *query_angle);
    if (key_angle) run(k, nullptr, *key_angle);
  });
}

}  // namespace

TORCH_LIBRARY(drive_rotor, m) {
  m.def("rotate_query_key_(Tensor(a!) q, Tensor(b!) k, Tensor? query_angle, Tensor? key_angle, "
        "int num_heads, bool inverse) -> ()");
  m.impl("rotate_query_key_", c10::DispatchKey::CPU, &rotate_query_key_);
  m.def("rope_angles(Tensor positions, Tensor frequencies) -> Tensor");
  m.impl("rope_angles", c10::DispatchKey::CPU, &rope_angles);
}
