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

def NuriFoldWeightDequantize : Pass<"nuri-fold-weight-dequantize"> {
  let summary = "Expand weights stored quantized into float constants";
  let description = [{
    Replaces every `nuri.dequantize` and `nuri.dequantize_blocked` whose
    operands are all constants (a weight stored int8, fp8 or in 4-bit blocks
    for a float product: w8a16, w4a16, fp8's weights, ONNX Runtime's
    DequantizeLinear of an initializer, MatMulNBits) by the float constant it
    computes, with the CPU kernel's arithmetic (`f32(q - zp) * scale`).

    The driver runs it for chip targets only, with `keep-linear-weights`:
    the NPU's GEMM reads the weights of a `nuri.linear` compressed and
    expands them as it loads them (`dma.dq`, docs/isa.md), so a per-channel
    int8 `nuri.dequantize` or a 4-bit `nuri.dequantize_blocked` without
    zero points that only linears read as their weight stays; the NPU
    lowering treats it as a constant expression (and expands it at compile
    time, with this pass's arithmetic, where its GEMM cannot read it
    compressed). Every other constant expansion (fp8, zero points,
    MatMulNBits with zero points) is folded: without it the expansion would
    be a CPU partition whose float result crosses to the device on every
    run (3.1 MB per decode step for gpt2-bytes-trained w4a16 on atom). The
    cpu target keeps the quantized bytes in the package and expands them at
    session prepare.

    ```mlir
    // before
    %w = nuri.dequantize %q, %s : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
    // after
    %w = nuri.constant dense<...> : tensor<2x2xf32>
    ```
  }];
  let options = [
    Option<"keepLinearWeights", "keep-linear-weights", "bool", "false",
           "keep the weight-only forms the NPU's GEMM expands on chip">,
  ];
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

def NuriFuseQuantizedMatmul : Pass<"nuri-fuse-quantized-matmul"> {
  let summary = "Fold quantized matmul patterns into nuri.quantized_matmul";
  let description = [{
    Two patterns become one `nuri.quantized_matmul` with a float read-out,
    which the CPU runs as an int8 x int8 -> int32 product:

    - QDQ: `matmul(dequantize(a), dequantize(W))` with a per-tensor `a` and a
      2-D `W` quantized per tensor or per output channel (axis 1, or axis 0
      when the matmul transposes `W`, as Gemm's `transB` does; the int8
      weight is transposed instead). A `W` quantized along the contracting
      axis cannot factor its scales out of the sum and is left alone. A
      `transpose(dequantize(W))` (torch.onnx.export's Linear on a 3-D
      activation) first becomes `dequantize(transpose(W))`, the channel axis
      permuted along, when the transpose is the dequantize's only use.
    - ONNX Runtime's dynamic quantization: `mul(cast(quantized_matmul(...)),
      s)` where the i32 product (MatMulInteger) is cast to f32 and scaled by
      `s = mul(a_scale, w_scale)`, a scalar or one value per output column.

    The read-out multiplies by `lhs_scale * rhs_scale[n]` in fp32, which is
    the dynamic pattern's arithmetic bit for bit.
  }];
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

//===----------------------------------------------------------------------===//
// Post-training quantization (docs/quantization.md)
//===----------------------------------------------------------------------===//

def NuriSmoothQuant : Pass<"nuri-smooth-quant", "::mlir::ModuleOp"> {
  let summary = "Migrate activation outliers from linears into their LayerNorm";
  let description = [{
    SmoothQuant (Xiao et al., 2023): for a `nuri.layer_norm` whose result
    feeds only linears by constant weights, each carrying a
    `nuri.calibration` attribute with `channel_absmax` (the largest |x| of
    each input channel seen in calibration) and none marked
    `nuri.quantize_skip`, the smoothing factor of input channel j is
    `s[j] = amax[j]^alpha / wmax[j]^(1 - alpha)`, `wmax[j]` the largest
    |W[j, n]| over the linears' columns. The norm's scale and bias are
    divided by `s` and each weight's row j multiplied by it. The float model
    computes the same function; the activations' outlier channels shrink and
    the weights absorb them, so a per-tensor int8 activation scale loses less.
    The `channel_absmax` attributes are divided by `s` too.

    ```mlir
    // before
    %n = nuri.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %y = nuri.linear %n, %w {nuri.calibration = {channel_absmax = array<f32: 16.0, 1.0>}} : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
    // after --nuri-smooth-quant{alpha=0.5}: %g, %b divided and %w's rows
    // multiplied by s = sqrt(amax / wmax)
    ```
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "Migration strength in [0, 1]: 0 leaves the activations, 1 "
           "moves all of their range into the weights">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriQuantize : Pass<"nuri-quantize", "::mlir::ModuleOp"> {
  let summary = "Rewrite float linears by constant weights into quantized ops";
  let description = [{
    Every `nuri.linear` by a constant 2-D f32 weight (not marked
    `nuri.quantize_skip`, not the model head unless `quantize-head`) is
    rewritten according to `scheme`:

    - `int8` (W8A8): the weight becomes per-output-channel symmetric int8
      (`scale[n] = max_k |W[k, n]| / 127`), the input is quantized to uint8
      per tensor with the range in the op's `nuri.calibration` attribute
      (`scale = (max - min) / 255` over a range that includes 0), and the
      product is a `nuri.quantized_matmul` with a float read-out, followed
      by the bias add. A candidate without a calibrated range is an error.
    - `fp8`: e4m3 (OCP "FN", max 448). The input is quantized per tensor
      with `scale = max(|min|, |max|) / 448` from the calibrated range and
      dequantized; the weight is stored e4m3 per output channel
      (`max_k |W[k, n]| / 448`) behind a `nuri.dequantize`; the float
      linear multiplies the two (the e4m3 rounding is exact, the product
      fp32).
    - `w8a16`: the weight becomes per-output-channel int8, dequantized by a
      `nuri.dequantize` feeding the float linear; activations stay float.
    - `w4a16`: the weight becomes 4-bit values in blocks of 128 along the
      reduction axis (fewer for a shorter one), each block with the scale
      `w / -8` for its value `w` of largest magnitude (which becomes -8)
      and the implicit zero point 8, dequantized by a
      `nuri.dequantize_blocked` (MatMulNBits' layout) feeding the float
      linear; activations stay float.

    The model head (a linear whose result reaches a function result through
    shape ops only, or whose name says `lm_head`) stays float by default:
    logits are where one step of quantization error costs the most. The
    result of each rewritten layer carries `nuri.quant_key`, the candidate's
    name. A module that is already quantized is refused.

    ```mlir
    // after --nuri-quantize{scheme=int8}
    %q = nuri.quantize %x, %s, %zp : (tensor<4x2xf32>, tensor<f32>, tensor<ui8>) -> tensor<4x2xui8>
    %y = nuri.quantized_matmul %q, %wq zero_points(%zp, %wzp) scales(%s, %ws) : (tensor<4x2xui8>, tensor<2x3xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<3xf32>) -> tensor<4x3xf32>
    ```
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", /*default=*/"\"int8\"",
           "int8 or fp8 (weights and activations), or w8a16 or w4a16 "
           "(weights only)">,
    Option<"quantizeHead", "quantize-head", "bool", /*default=*/"false",
           "Quantize the model head (lm_head) too">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

//===----------------------------------------------------------------------===//
// NPU flow: compute dtype, partitioning, outlining (docs/npu-codegen.md)
//===----------------------------------------------------------------------===//

def NuriConvertDtype : Pass<"nuri-convert-dtype", "::mlir::func::FuncOp"> {
  let summary = "Convert the float tensors and weights to the compute dtype";
  let description = [{
    Every float tensor of the function (f16, bf16, f32, f64) becomes a
    tensor of the compute dtype. Float constants are converted at compile
    time with round-to-nearest-even; float arguments are cast on entry and
    float results cast back to their declared type before the return, so
    the model keeps its interface. Ops whose CPU kernels or numerics want
    the original precision (opaque `nuri.onnx_op`, `nuri.quantize`,
    `nuri.dequantize`) keep their types, with casts around them.

    The NPU then computes bf16 x bf16 -> fp32 accumulate, and the CPU device
    runs the same converted graph, so the two can be compared.

    ```mlir
    // before
    func.func @f(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
      %w = nuri.constant dense<0.5> : tensor<4x3xf32>
      %y = nuri.linear %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
      return %y : tensor<2x3xf32>
    }
    // after --nuri-convert-dtype{dtype=bf16}
    func.func @f(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
      %0 = nuri.cast %x : tensor<2x4xf32> -> tensor<2x4xbf16>
      %w = nuri.constant dense<5.000000e-01> : tensor<4x3xbf16>
      %y = nuri.linear %0, %w : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
      %1 = nuri.cast %y : tensor<2x3xbf16> -> tensor<2x3xf32>
      return %1 : tensor<2x3xf32>
    }
    ```
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"bf16\"",
           "The compute dtype: bf16, fp16 or fp32">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriAttachTarget : Pass<"nuri-attach-target", "::mlir::ModuleOp"> {
  let summary = "Attach a chip config to the module as nuri.target";
  let description = [{
    Loads the chip config `target` names and attaches it to the module as
    `nuri.target = #nuri.target<...>`, as `nuri compile` does with the config
    it loaded: passes that need the chip (`nuri-partition`, the NPU
    lowering) read it from there with `lookupTarget`. A config name stays a
    name in the attribute; a `.yaml` path is embedded as its config.

    ```mlir
    // --nuri-attach-target=target=atom
    module attributes {nuri.target = #nuri.target<"atom">} {
    }
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"atom\"",
           "The chip config: a name (backends/configs/NAME.yaml) or a path "
           "ending in .yaml">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriPartition : Pass<"nuri-partition", "::mlir::func::FuncOp"> {
  let summary = "Place every op on the NPU of a target or on the CPU";
  let description = [{
    Asks the target backend registered for the module's target (`nuri.target`,
    see `nuri-attach-target`; the NPU code generation registers the backend
    of every chip config) for each op of the function, with its operand and
    result types, whether the chip executes it, and records the answer as
    `nuri.device = "npu"` or `"cpu"`; a CPU op also gets `nuri.fallback`, the
    reason, for `nuri compile --report`. Constants get no device: they go
    wherever they are used. A function outside any module with a
    `nuri.target` is an error.

    When no backend is registered (a tool that links no code generation)
    every op falls back, and the reason says so. `test-claim` replaces the
    question by a list of op names for tests of the graph-level flow.

    ```mlir
    %y = nuri.linear %x, %w {nuri.device = "npu"} : ...
    %z = nuri.softmax %y {axis = -1 : i64, nuri.device = "cpu",
                          nuri.fallback = "no NPU lowering for nuri.softmax"} : ...
    ```
  }];
  let options = [
    ListOption<"testClaim", "test-claim", "std::string",
               "Claim exactly the ops with these names (e.g. nuri.linear), "
               "instead of asking the NPU code generation">
  ];
  let dependentDialects = ["::nuri::NuriDialect"];
}

def NuriOutlineNpuPartitions
    : Pass<"nuri-outline-npu-partitions", "::mlir::ModuleOp"> {
  let summary = "Outline maximal groups of NPU ops into partition functions";
  let description = [{
    Groups the ops of `@main` marked `nuri.device = "npu"` into maximal
    groups that can run as one unit: an op joins a group unless that would
    make the group depend on itself through a CPU op (or another group).
    Each group becomes `func.func private @npu_N {nuri.partition = "npu"}`
    whose arguments and results carry unique `nuri.name`s (the tensor names
    the package exchanges between partitions); the constants it uses are
    cloned into it. `@main` calls the groups and is sorted topologically.

    ```mlir
    func.func private @npu_0(%arg0: tensor<2x4xbf16> {nuri.name = "x"})
        -> (tensor<2x3xbf16> {nuri.name = "fc1:0"}) attributes {nuri.partition = "npu"}
    func.func @main(%x: tensor<2x4xbf16> {nuri.name = "x"}) -> ... {
      %0 = call @npu_0(%x) : (tensor<2x4xbf16>) -> tensor<2x3xbf16>
      ...
    }
    ```
  }];
  let dependentDialects = ["::nuri::NuriDialect", "::mlir::func::FuncDialect"];
}

def NuriKvCache : Pass<"nuri-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Turn a decoder's past/present pairs into an in-place KV cache";
  let description = [{
    For `nuri compile --generate`: `@main` is one program of a generation
    family, a decoder exported with its KV cache (optimum's
    `decoder_with_past`: `past_key_values.N.key` in, `present.N.key =
    concat(past, new, axis 2)` out), imported with one bucket's shapes
    (batch `B`, `T` new tokens, past length `P`). Each pair becomes a state
    buffer, the KV cache `[slots, heads, max_seq, dim]`:

    - the past argument becomes the cache (argument attribute
      `nuri.state = "<past name>"`), the present result becomes
      `nuri.cache_write %cache, %new, %kv_slots, %kv_positions` (result
      attribute `nuri.state`: the cache after the step, kept in place);
    - attention over `concat(past, new)` reads the cache instead:
      `nuri.cache_attention` over positions `[0, P + T)` when `P > 0` (a
      decode step), plain attention over the new keys when `P = 0` (a
      prefill from an empty cache);
    - two arguments are appended: `kv_slots` and `kv_positions`, `[B]` i64,
      the cache slot of each batch row and where its new tokens go.

    A model without past/present pairs, or whose cache is read by anything
    but attention, is an error that says what the rewrite needs.

    ```mlir
    // --nuri-kv-cache="slots=8 max-seq=256"
    %w = nuri.cache_write %cache, %k, %kv_slots, %kv_positions : ...
    %o = nuri.cache_attention %q, %w, %wv, %kv_slots, %mask {context_length = 64 : i64, scale = ...} : ...
    ```
  }];
  let options = [
    Option<"slots", "slots", "int64_t", /*default=*/"1",
           "Cache slots: the most sequences decoded at once">,
    Option<"maxSeq", "max-seq", "int64_t", /*default=*/"0",
           "Cache length in tokens (prompt and generated); 0: the model's "
           "past + new length">
  ];
  let dependentDialects = ["::nuri::NuriDialect", "::mlir::func::FuncDialect"];
}

#endif // NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD
