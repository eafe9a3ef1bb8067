//===- Passes.td - Graph passes of the nuri dialect --------*- tablegen -*-===//

#ifndef NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD
#define NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NuriFoldConstants : Pass<"nuri-fold-constants"> {
  let summary = "Evaluate every op whose operands are all constants";
  let description = [{
    Runs the ops' folders to a fixed point, without any other rewrite. After
    import this leaves no shape arithmetic behind (Shape, Gather, Concat,
    Unsqueeze chains were folded into constants) and it turns transposes of
    weights into transposed weight constants, so the NPU backend sees weights
    in the layout the matmul consumes.
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseLayerNorm : Pass<"nuri-fuse-layer-norm"> {
  let summary = "Recognize decomposed LayerNorm and fuse it into nuri.layer_norm";
  let description = [{
    Exporters that predate ONNX's LayerNormalization (or TensorFlow's
    converters) write LayerNorm as a dozen elementwise ops. This pass
    recognizes

    * the PyTorch form: `d = x - mean(x)`, `v = mean(d^2)` (Pow 2 or d * d),
      `d / sqrt(v + eps)` (or `d * rsqrt(v + eps)`, `d * reciprocal(sqrt(...))`),
      then `* gamma` and `+ beta`, in any operand order;
    * the TensorFlow/keras2onnx form:
      `x * g + (beta - mean * g)` with `g = gamma * rsqrt(v + eps)`.

    The means must reduce the trailing dimensions with `keep_dims`; epsilon
    must be a scalar constant. The normalization fuses first (with a unit
    scale) and then absorbs the following multiply and add, so a LayerNorm
    without affine parameters fuses too.

    ```mlir
    // before: reduce_mean, sub, pow, reduce_mean, add, sqrt, div, mul, add
    %y = nuri.layer_norm %x, %gamma, %beta {axis = 2 : i64, epsilon = 9.99999996E-13 : f32} : (tensor<1x8x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x8x32xf32>
    ```
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseRmsNorm : Pass<"nuri-fuse-rms-norm"> {
  let summary = "Recognize decomposed RMSNorm and fuse it into nuri.rms_norm";
  let description = [{
    LLaMA-style exports compute
    `x * (1 / sqrt(mean(x^2) + eps)) * gamma` from Pow (or x * x),
    ReduceMean, Add, Sqrt and Div/Reciprocal (or Rsqrt) and Mul. The mean
    must reduce the trailing dimensions with `keep_dims`. Runs after
    `nuri-fuse-layer-norm`, so a centered input is a LayerNorm, not an
    RMSNorm of `x - mean`.
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseActivations : Pass<"nuri-fuse-activations"> {
  let summary = "Recognize decomposed GELU and SiLU";
  let description = [{
    * GELU, erf form: `0.5 * x * (1 + erf(x / sqrt(2)))` (or `x * 0.7071`)
      in any association and operand order -> `nuri.gelu` (none);
    * GELU, tanh form:
      `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`, with the
      cube as Pow 3 or products, again in any arrangement -> `nuri.gelu`
      (tanh). The argument of tanh is read as a polynomial in `x`, so
      `x * c * (1 + c' * x * x)` (Megatron) fuses too;
    * SiLU: `x * sigmoid(x)` or `x / (1 + exp(-x))` -> `nuri.silu`.

    Constants are matched by value within a relative tolerance of 1e-3; they
    must be scalar or splat constants.
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseRope : Pass<"nuri-fuse-rope"> {
  let summary = "Recognize rotate-half rotary embeddings";
  let description = [{
    Matches `x * cos + rotate_half(x) * sin` where
    `rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2])` on the last axis
    (two slices or one split, a neg, a concat), in any operand order, and
    replaces it with `nuri.rope`. `cos` and `sin` may be any values that
    broadcast to `x` (gathered tables, constants).
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseAttention : Pass<"nuri-fuse-attention"> {
  let summary = "Recognize scaled dot-product attention";
  let description = [{
    Matches `matmul(softmax(mask(scale * matmul(q, k^T))), v)` and replaces
    it with `nuri.attention` on `[B, H, S, D]` operands:

    * `k^T` is an explicit transpose (also the `(0, 2, 3, 1)` permutation of
      the head-split key, rewritten into a `(0, 2, 1, 3)` transpose), a
      `transpose_rhs` matmul, or any `[B, H, D, S]` value (a transpose is
      inserted);
    * scalar multiplies or divides by constants anywhere on the query, key
      or score paths (also before the head split, and split as sqrt(scale)
      on both q and k) become the `scale` attribute;
    * an additive float mask, `where(keep, scores, -large)` or
      `where(drop, -large, scores)` becomes the mask operand; a constant
      mask that is causal becomes the `causal` flag and an all-keep one is
      dropped. A causal mask next to a padding mask (Hugging Face's GPT-2
      and LLaMA) stays part of one summed mask unless `split-causal-mask`
      is set: the flag's `-inf` would change the rows that padding hides
      entirely (left padding), which the exported graph fills with finite
      values;
    * 3-D (bmm-style, `[B * H, S, D]`) attention uses the 4-D values it was
      reshaped from;
    * grouped-query key/value repeated by broadcast_to + reshape
      (`[B, Hkv, S, D] -> [B, Hkv, n, S, D] -> [B, Hq, S, D]`) is fed
      un-repeated.

    The head split and merge (reshape/transpose) stay around the fused op.
  }];
  let options = [
    Option<"binaryFloatMasks", "binary-float-masks", "bool",
           /*default=*/"true",
           "Treat `scores * m - c * (1 - m)` (Megatron) as a keep-where-m "
           "mask, which holds when m is 0 or 1">,
    Option<"splitCausalMask", "split-causal-mask", "bool",
           /*default=*/"false",
           "Make a constant causal mask that comes with a padding mask the "
           "causal flag, at the price of different results in rows the "
           "padding hides entirely">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriFuseLinear : Pass<"nuri-fuse-linear"> {
  let summary = "Turn matmuls by constant weights into nuri.linear";
  let description = [{
    `matmul(x, W)` with a constant 2-D `W` (transposed first if the matmul
    says `transpose_rhs`), plus a following add of a constant bias that
    broadcasts along the last axis only, becomes `nuri.linear`. A reshape
    that only merges the leading dimensions around the matmul (TensorFlow's
    Tensordot) is moved out of the way, so the linear op sees the original
    rank and the reshapes cancel.
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

#endif // NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD
