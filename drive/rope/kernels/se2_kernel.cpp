// SE(2) pose transforms of the se2 attention layer (drive/nn/se2_attention.py) in one call each.
//
// For every token (b, n) with pose (p, psi) and every head h, the leading channels of x[b, n, h, :] are
// multiplied by a block of the pose's representation: homogeneous blocks (a_x, a_y, c) with scale s_j
// (t = p / s_j) and rotation pairs with integer harmonics m. Four modes, closed under transposition:
//   key    rho       a' = R a + t c,     c' = c              pairs rotated by +m psi
//   query  rho^-T    a' = R a,           c' = c - t.(R a)    pairs rotated by +m psi
//   output rho^-1    a' = R^T (a - t c), c' = c              pairs rotated by -m psi
//   key_t  rho^T     a' = R^T a,         c' = c + t.a        pairs rotated by -m psi
// (key^T = key_t, query^T = output, output^T = query), so each backward is the forward of the
// transposed mode. Channels past the blocks are copied; three distance channels may be appended
// (query: beta_h (2 p / s_d, 1); key: (p / s_d, -|p / s_d|^2)), whose scores add -beta |p_q - p_k|^2,
// with beta_h = softplus(beta_raw_h) / score_scale computed here, as the layer's eager path does.
//
// The arithmetic follows the eager path: angles, sines, cosines and shifts in the pose dtype P, then
// cast to x's dtype T; distance channels in T. One call replaces about fifteen eager kernels.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

enum Mode : int64_t { KEY = 0, QUERY = 1, OUTPUT = 2, KEY_TRANSPOSED = 3 };
enum Distance : int64_t { NO_DISTANCE = 0, QUERY_DISTANCE = 1, KEY_DISTANCE = 2 };

inline void sin_cos(float angle, float* s, float* c) { ::sincosf(angle, s, c); }
inline void sin_cos(double angle, double* s, double* c) { ::sincos(angle, s, c); }

struct Layout {
  int64_t batch, tokens, heads, width_in, blocks, pairs;
};

// x is read through its strides (the attention output arrives transposed); out is contiguous
// [B, N, H, width_out]. The mode and a unit channel stride are template parameters, so the per-channel
// loops carry no branches and unit strides compile to plain loads.
template <typename T, typename P, int64_t mode, bool unit_stride>
void transform_kernel(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& heading,
                      const at::Tensor& scales, const at::Tensor& harmonics, const Layout& L, int64_t distance,
                      const T* beta, double distance_scale, at::Tensor& out) {
  const T* xp = x.data_ptr<T>();
  const int64_t sb = x.stride(0), sn = x.stride(1), sh = x.stride(2), sc = unit_stride ? 1 : x.stride(3);
  const P* pp = pos.data_ptr<P>();
  const P* hp = heading.data_ptr<P>();
  const P* scale = scales.data_ptr<P>();
  const P* harmonic = harmonics.data_ptr<P>();
  T* op = out.data_ptr<T>();
  const int64_t width_out = out.size(3);
  constexpr bool backwards = mode == OUTPUT || mode == KEY_TRANSPOSED;
  std::vector<T> tx(L.blocks), ty(L.blocks), pair_cos(L.pairs), pair_sin(L.pairs);
  for (int64_t b = 0; b < L.batch; ++b) {
    for (int64_t n = 0; n < L.tokens; ++n) {
      const int64_t token = b * L.tokens + n;
      const P psi = hp[token];
      P sp, cp;
      sin_cos(psi, &sp, &cp);
      const T c = static_cast<T>(cp), s = static_cast<T>(sp);
      for (int64_t j = 0; j < L.blocks; ++j) {
        tx[j] = static_cast<T>(pp[2 * token] / scale[j]);
        ty[j] = static_cast<T>(pp[2 * token + 1] / scale[j]);
      }
      for (int64_t i = 0; i < L.pairs; ++i) {
        P rs, rc;
        sin_cos(psi * harmonic[i], &rs, &rc);
        pair_cos[i] = static_cast<T>(rc);
        pair_sin[i] = backwards ? -static_cast<T>(rs) : static_cast<T>(rs);
      }
      // Distance channels in T, as the eager path computes them from pos.to(x.dtype).
      const T px = static_cast<T>(pp[2 * token]) / static_cast<T>(distance_scale);
      const T py = static_cast<T>(pp[2 * token + 1]) / static_cast<T>(distance_scale);
      for (int64_t h = 0; h < L.heads; ++h) {
        const T* xi = xp + b * sb + n * sn + h * sh;
        T* o = op + ((token * L.heads) + h) * width_out;
        for (int64_t j = 0; j < L.blocks; ++j) {
          const T ax = xi[(3 * j) * sc], ay = xi[(3 * j + 1) * sc], cc = xi[(3 * j + 2) * sc];
          T rx, ry, rc;
          if constexpr (mode == KEY) {
            rx = c * ax - s * ay + tx[j] * cc;
            ry = s * ax + c * ay + ty[j] * cc;
            rc = cc;
          } else if constexpr (mode == QUERY) {
            rx = c * ax - s * ay;
            ry = s * ax + c * ay;
            rc = cc - (tx[j] * rx + ty[j] * ry);
          } else if constexpr (mode == OUTPUT) {
            const T dx = ax - tx[j] * cc, dy = ay - ty[j] * cc;
            rx = c * dx + s * dy;
            ry = c * dy - s * dx;
            rc = cc;
          } else {  // KEY_TRANSPOSED
            rx = c * ax + s * ay;
            ry = c * ay - s * ax;
            rc = cc + (tx[j] * ax + ty[j] * ay);
          }
          o[3 * j] = rx;
          o[3 * j + 1] = ry;
          o[3 * j + 2] = rc;
        }
        const int64_t first = 3 * L.blocks;
        for (int64_t i = 0; i < L.pairs; ++i) {
          const T u = xi[(first + 2 * i) * sc], v = xi[(first + 2 * i + 1) * sc];
          o[first + 2 * i] = pair_cos[i] * u - pair_sin[i] * v;
          o[first + 2 * i + 1] = pair_sin[i] * u + pair_cos[i] * v;
        }
        for (int64_t ch = first + 2 * L.pairs; ch < L.width_in; ++ch) o[ch] = xi[ch * sc];
        if (distance == QUERY_DISTANCE) {
          o[L.width_in] = beta[h] * (2 * px);
          o[L.width_in + 1] = beta[h] * (2 * py);
          o[L.width_in + 2] = beta[h];
        } else if (distance == KEY_DISTANCE) {
          o[L.width_in] = px;
          o[L.width_in + 1] = py;
          o[L.width_in + 2] = -(px * px + py * py);
        }
      }
    }
  }
}

template <typename T, typename P>
void transform(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& heading, const at::Tensor& scales,
               const at::Tensor& harmonics, const Layout& L, int64_t mode, int64_t distance, const T* beta,
               double distance_scale, at::Tensor& out) {
  const bool unit = x.stride(3) == 1;
  auto run = [&](auto mode_constant) {
    constexpr int64_t m = decltype(mode_constant)::value;
    if (unit) {
      transform_kernel<T, P, m, true>(x, pos, heading, scales, harmonics, L, distance, beta, distance_scale, out);
    } else {
      transform_kernel<T, P, m, false>(x, pos, heading, scales, harmonics, L, distance, beta, distance_scale, out);
    }
  };
  switch (mode) {
    case KEY: run(std::integral_constant<int64_t, KEY>()); break;
    case QUERY: run(std::integral_constant<int64_t, QUERY>()); break;
    case OUTPUT: run(std::integral_constant<int64_t, OUTPUT>()); break;
    default: run(std::integral_constant<int64_t, KEY_TRANSPOSED>());
  }
}

Layout check_inputs(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& heading,
                    const at::Tensor& scales, const at::Tensor& harmonics, int64_t width_in) {
  TORCH_CHECK(x.dim() == 4, "x must be [B, N, H, w], got ", x.dim(), " dims");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, "x must be fp32 or fp64");
  const auto P = pos.scalar_type();
  TORCH_CHECK(P == at::kFloat || P == at::kDouble, "poses must be fp32 or fp64");
  TORCH_CHECK(heading.scalar_type() == P && scales.scalar_type() == P && harmonics.scalar_type() == P,
              "pos, heading, scales and harmonics must share a dtype");
  for (const at::Tensor* t : {&x, &pos, &heading, &scales, &harmonics}) TORCH_CHECK(t->device().is_cpu(), "CPU only");
  TORCH_CHECK(pos.is_contiguous() && heading.is_contiguous() && scales.is_contiguous() && harmonics.is_contiguous(),
              "poses must be contiguous");
  const Layout L{x.size(0), x.size(1), x.size(2), width_in, scales.numel(), harmonics.numel()};
  TORCH_CHECK(pos.dim() == 3 && pos.size(0) == L.batch && pos.size(1) == L.tokens && pos.size(2) == 2,
              "pos must be [B, N, 2]");
  TORCH_CHECK(heading.dim() == 2 && heading.size(0) == L.batch && heading.size(1) == L.tokens,
              "heading must be [B, N]");
  TORCH_CHECK(3 * L.blocks + 2 * L.pairs <= width_in && width_in <= x.size(3),
              "the pose blocks and pairs must fit the transformed channels");
  return L;
}

template <typename F>
void dispatch(const at::Tensor& x, const at::Tensor& pos, F&& body) {
  const bool x64 = x.scalar_type() == at::kDouble, p64 = pos.scalar_type() == at::kDouble;
  if (x64 && p64) body(double(), double());
  else if (x64) body(double(), float());
  else if (p64) body(float(), double());
  else body(float(), float());
}

// softplus with torch's default threshold (20), in T: the layer's eager F.softplus(beta_raw).
template <typename T>
T softplus(T raw) { return raw > T(20) ? raw : std::log1p(std::exp(raw)); }

at::Tensor se2_transform(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& heading,
                         const at::Tensor& scales, const at::Tensor& harmonics, int64_t mode, int64_t distance,
                         const std::optional<at::Tensor>& beta_raw, double score_scale, double distance_scale) {
  TORCH_CHECK(mode >= KEY && mode <= KEY_TRANSPOSED, "mode must be 0..3");
  TORCH_CHECK(distance >= NO_DISTANCE && distance <= KEY_DISTANCE, "distance must be 0..2");
  const Layout L = check_inputs(x, pos, heading, scales, harmonics, x.size(3));
  if (distance == QUERY_DISTANCE) {
    TORCH_CHECK(beta_raw && beta_raw->numel() == L.heads && beta_raw->scalar_type() == x.scalar_type() &&
                    beta_raw->device().is_cpu(),
                "query distance channels need beta_raw [H] in x's dtype");
  }
  at::Tensor out = at::empty({L.batch, L.tokens, L.heads, L.width_in + (distance ? 3 : 0)}, x.options());
  dispatch(x, pos, [&](auto t, auto p) {
    using T = decltype(t);
    using P = decltype(p);
    std::vector<T> beta;
    if (distance == QUERY_DISTANCE) {
      const at::Tensor raw = beta_raw->contiguous();
      for (int64_t h = 0; h < L.heads; ++h) {
        beta.push_back(softplus(raw.data_ptr<T>()[h]) / static_cast<T>(score_scale));
      }
    }
    transform<T, P>(x, pos, heading, scales, harmonics, L, mode, distance, beta.empty() ? nullptr : beta.data(),
                    distance_scale, out);
  });
  return out;
}

// Gradient of se2_transform with respect to x (the transposed mode on the first width_in channels) and,
// for query distance channels, to beta_raw: the sum over tokens of grad . (2 p / s_d, 1) is the gradient
// of beta, times softplus'(beta_raw) / score_scale (torch's softplus backward, threshold 20).
std::tuple<at::Tensor, at::Tensor> se2_transform_backward(
    const at::Tensor& grad, const at::Tensor& pos, const at::Tensor& heading, const at::Tensor& scales,
    const at::Tensor& harmonics, int64_t mode, int64_t width_in, int64_t distance,
    const std::optional<at::Tensor>& beta_raw, double score_scale, double distance_scale) {
  static const int64_t transposed[] = {KEY_TRANSPOSED, OUTPUT, QUERY, KEY};
  TORCH_CHECK(mode >= KEY && mode <= KEY_TRANSPOSED, "mode must be 0..3");
  const Layout L = check_inputs(grad, pos, heading, scales, harmonics, width_in);
  at::Tensor grad_x = at::empty({L.batch, L.tokens, L.heads, width_in}, grad.options());
  at::Tensor grad_beta = at::zeros({distance == QUERY_DISTANCE ? L.heads : 0}, grad.options());
  dispatch(grad, pos, [&](auto t, auto p) {
    using T = decltype(t);
    using P = decltype(p);
    transform<T, P>(grad, pos, heading, scales, harmonics, L, transposed[mode], NO_DISTANCE, nullptr,
                    distance_scale, grad_x);
    if (distance != QUERY_DISTANCE) return;
    const T* g = grad.data_ptr<T>();
    const P* pp = pos.data_ptr<P>();
    const int64_t sb = grad.stride(0), sn = grad.stride(1), sh = grad.stride(2), sc = grad.stride(3);
    std::vector<double> sums(L.heads, 0.0);
    for (int64_t b = 0; b < L.batch; ++b) {
      for (int64_t n = 0; n < L.tokens; ++n) {
        const int64_t token = b * L.tokens + n;
        const T px = static_cast<T>(pp[2 * token]) / static_cast<T>(distance_scale);
        const T py = static_cast<T>(pp[2 * token + 1]) / static_cast<T>(distance_scale);
        for (int64_t h = 0; h < L.heads; ++h) {
          const T* gi = g + b * sb + n * sn + h * sh + width_in * sc;
          sums[h] += static_cast<double>(gi[0]) * (2 * px) + static_cast<double>(gi[sc]) * (2 * py) +
                     static_cast<double>(gi[2 * sc]);
        }
      }
    }
    TORCH_CHECK(beta_raw && beta_raw->numel() == L.heads && beta_raw->scalar_type() == grad.scalar_type(),
                "query distance channels need beta_raw [H] in the gradient's dtype");
    const at::Tensor raw = beta_raw->contiguous();
    T* gb = grad_beta.data_ptr<T>();
    for (int64_t h = 0; h < L.heads; ++h) {
      const T x = raw.data_ptr<T>()[h];
      const T grad_softplus = static_cast<T>(sums[h]) / static_cast<T>(score_scale);
      const T z = std::exp(x);
      gb[h] = x > T(20) ? grad_softplus : grad_softplus * z / (z + T(1));
    }
  });
  return {grad_x, grad_beta};
}

// Several transforms in one call (the query, key and value of a layer): plan[i] = (mode, distance,
// pose index) for xs[i], pose index 0 = (query_pos, query_heading), 1 = (key_pos, key_heading).
std::vector<at::Tensor> se2_transform_many(at::TensorList xs, const at::Tensor& query_pos,
                                           const at::Tensor& query_heading, const at::Tensor& key_pos,
                                           const at::Tensor& key_heading, const at::Tensor& scales,
                                           const at::Tensor& harmonics, at::IntArrayRef plan,
                                           const std::optional<at::Tensor>& beta_raw, double score_scale,
                                           double distance_scale) {
  TORCH_CHECK(plan.size() == 3 * xs.size(), "plan must hold (mode, distance, pose) for every tensor");
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const bool query_pose = plan[3 * i + 2] == 0;
    outs.push_back(se2_transform(xs[i], query_pose ? query_pos : key_pos, query_pose ? query_heading : key_heading,
                                 scales, harmonics, plan[3 * i], plan[3 * i + 1],
                                 plan[3 * i + 1] == QUERY_DISTANCE ? beta_raw : std::nullopt, score_scale,
                                 distance_scale));
  }
  return outs;
}

// Backward of se2_transform_many: the gradients of xs (undefined where grads[i] is) and of beta (summed
// over the plan's query distance channels; empty when it has none).
std::tuple<std::vector<at::Tensor>, at::Tensor> se2_transform_many_backward(
    const c10::List<std::optional<at::Tensor>>& grads, const at::Tensor& query_pos, const at::Tensor& query_heading, const at::Tensor& key_pos,
    const at::Tensor& key_heading, const at::Tensor& scales, const at::Tensor& harmonics, at::IntArrayRef plan,
    at::IntArrayRef widths, const std::optional<at::Tensor>& beta_raw, double score_scale, double distance_scale) {
  TORCH_CHECK(plan.size() == 3 * grads.size() && widths.size() == grads.size(), "one plan entry per gradient");
  std::vector<at::Tensor> grad_xs;
  at::Tensor grad_beta;
  for (size_t i = 0; i < grads.size(); ++i) {
    const std::optional<at::Tensor> grad = grads[i];
    if (!grad || !grad->defined()) {
      grad_xs.emplace_back();
      continue;
    }
    const bool query_pose = plan[3 * i + 2] == 0;
    auto [grad_x, beta_part] = se2_transform_backward(
        *grad, query_pose ? query_pos : key_pos, query_pose ? query_heading : key_heading, scales, harmonics,
        plan[3 * i], widths[i], plan[3 * i + 1], beta_raw, score_scale, distance_scale);
    grad_xs.push_back(grad_x);
    if (plan[3 * i + 1] == QUERY_DISTANCE) grad_beta = grad_beta.defined() ? grad_beta + beta_part : beta_part;
  }
  if (!grad_beta.defined()) grad_beta = at::empty({0}, query_pos.options());
  return {grad_xs, grad_beta};
}

}  // namespace

TORCH_LIBRARY(drive_se2, m) {
  m.def("se2_transform(Tensor x, Tensor pos, Tensor heading, Tensor scales, Tensor harmonics, int mode, "
        "int distance, Tensor? beta_raw, float score_scale, float distance_scale) -> Tensor");
  m.impl("se2_transform", c10::DispatchKey::CPU, &se2_transform);
  m.def("se2_transform_backward(Tensor grad, Tensor pos, Tensor heading, Tensor scales, Tensor harmonics, "
        "int mode, int width_in, int distance, Tensor? beta_raw, float score_scale, float distance_scale) "
        "-> (Tensor, Tensor)");
  m.impl("se2_transform_backward", c10::DispatchKey::CPU, &se2_transform_backward);
  m.def("se2_transform_many(Tensor[] xs, Tensor query_pos, Tensor query_heading, Tensor key_pos, "
        "Tensor key_heading, Tensor scales, Tensor harmonics, int[] plan, Tensor? beta_raw, float score_scale, "
        "float distance_scale) -> Tensor[]");
  m.impl("se2_transform_many", c10::DispatchKey::CPU, &se2_transform_many);
  m.def("se2_transform_many_backward(Tensor?[] grads, Tensor query_pos, Tensor query_heading, Tensor key_pos, "
        "Tensor key_heading, Tensor scales, Tensor harmonics, int[] plan, int[] widths, Tensor? beta_raw, "
        "float score_scale, float distance_scale) -> (Tensor[], Tensor)");
  m.impl("se2_transform_many_backward", c10::DispatchKey::CPU, &se2_transform_many_backward);
}
