//===- NuriOps.td - Operations of the nuri dialect ---------*- tablegen -*-===//
//
// Every op states its semantics in its description, carries static result
// types, and infers them from operands and attributes: the verifier compares
// the declared result types with the inferred ones, so a wrong shape is caught
// at the op that is wrong.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_NURIOPS_TD
#define NURI_DIALECT_NURI_IR_NURIOPS_TD

include "nuri/Dialect/Nuri/IR/NuriBase.td"
include "nuri/Dialect/Nuri/IR/NuriEnums.td"
include "nuri/Dialect/Nuri/IR/NuriAttrs.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

// The signature every shape-inferring op defines; `$cppClass` is the op.
class Nuri_InferBody<string call> {
  code body = [{
    ::mlir::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *context, std::optional<::mlir::Location> location,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return }] # call # [{;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def Nuri_ConstantOp : Nuri_Op<"constant",
    [ConstantLike, Pure, InferTypeOpAdaptor]> {
  let summary = "a tensor constant (weights, tables, scalars)";
  let description = [{
    Weights are `dense_resource` blobs, so a 400 MB model is one buffer per
    initializer and never a list of elements; small constants may be `dense`.

    ```mlir
    %w = nuri.constant dense_resource<bert.encoder.0.q.weight> : tensor<768x768xf32>
    %eps = nuri.constant dense<1.0e-12> : tensor<f32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferConstant(location, adaptor.getValue(), inferred)">.body;
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def Nuri_MatmulOp : Nuri_Op<"matmul", [Pure, InferTypeOpAdaptor]> {
  let summary = "batched matrix product with broadcast batch dimensions";
  let description = [{
    `output[..., m, n] = sum_k lhs[..., m, k] * rhs[..., k, n]`, where the
    transposes apply first to the last two dimensions of each operand and the
    leading (batch) dimensions broadcast. Both operands have rank >= 2.

    ```mlir
    %s = nuri.matmul %q, %k {transpose_rhs} : tensor<1x12x128x64xf32>, tensor<1x12x128x64xf32> -> tensor<1x12x128x128xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$lhs, Nuri_Tensor:$rhs,
                   UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferMatmul(location, adaptor.getLhs().getType(), adaptor.getRhs().getType(), adaptor.getTransposeLhs(), adaptor.getTransposeRhs(), inferred)">.body;
}

def Nuri_LinearOp : Nuri_Op<"linear", [Pure, InferTypeOpAdaptor]> {
  let summary = "dense layer: input x weight + bias";
  let description = [{
    `output[..., n] = sum_k input[..., k] * weight[k, n] + bias[n]`. The
    weight is a 2-D `[in, out]` matrix (usually a constant); the bias is
    optional. The NPU backend picks the weight's layout, so this op fixes
    only the math.

    ```mlir
    %y = nuri.linear %x, %w, %b : (tensor<1x128x768xf32>, tensor<768x3072xf32>, tensor<3072xf32>) -> tensor<1x128x3072xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, Nuri_Tensor:$weight,
                   Optional<Nuri_Tensor>:$bias);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferLinear(location, adaptor.getInput().getType(), adaptor.getWeight().getType(), adaptor.getBias(), inferred)">.body;
}

def Nuri_ConvOp : Nuri_Op<"conv", [Pure, InferTypeOpAdaptor]> {
  let summary = "1-D or 2-D convolution in NC(H)W layout";
  let description = [{
    Input `[N, C, W]` or `[N, C, H, W]`, weight `[F, C / group, kW]` or
    `[F, C / group, kH, kW]`, optional bias `[F]`. `pads` holds the leading
    pads of each spatial dim, then the trailing ones (ONNX order). ViT's
    patch embedding and Whisper's stem are convolutions.

    ```mlir
    %p = nuri.conv %img, %w, %b {strides = array<i64: 16, 16>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x224x224xf32>, tensor<192x3x16x16xf32>, tensor<192xf32>) -> tensor<1x192x14x14xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, Nuri_Tensor:$weight,
                   Optional<Nuri_Tensor>:$bias,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, I64Attr:$group);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferConv(location, adaptor.getInput().getType(), adaptor.getWeight().getType(), adaptor.getBias(), adaptor.getStrides(), adaptor.getPads(), adaptor.getDilations(), adaptor.getGroupAttr(), inferred)">.body;
}

//===----------------------------------------------------------------------===//
// Elementwise binary ops (numpy broadcasting)
//===----------------------------------------------------------------------===//

class Nuri_BinaryOp<string mnemonic, string math, list<Trait> traits = []>
    : Nuri_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptor])> {
  let summary = "elementwise " # math # " with broadcasting";
  let description = [{
    `output = }] # math # [{` elementwise, operands broadcast by numpy's
    rules. Both operands have the same element type.

    ```mlir
    %y = nuri.}] # mnemonic # [{ %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$lhs, Nuri_Tensor:$rhs);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferBroadcast(location, adaptor.getOperands(), /*boolResult=*/false, inferred)">.body;
  let hasFolder = 1;
}

def Nuri_AddOp : Nuri_BinaryOp<"add", "lhs + rhs", [Commutative]>;
def Nuri_SubOp : Nuri_BinaryOp<"sub", "lhs - rhs">;
def Nuri_MulOp : Nuri_BinaryOp<"mul", "lhs * rhs", [Commutative]>;
def Nuri_DivOp : Nuri_BinaryOp<"div", "lhs / rhs (integers truncate)">;
def Nuri_PowOp : Nuri_BinaryOp<"pow", "lhs ** rhs">;
def Nuri_MaxOp : Nuri_BinaryOp<"max", "max(lhs, rhs)", [Commutative]>;
def Nuri_MinOp : Nuri_BinaryOp<"min", "min(lhs, rhs)", [Commutative]>;
def Nuri_ModOp : Nuri_BinaryOp<"mod", "lhs mod rhs (sign of rhs, as Python)">;

class Nuri_LogicalBinaryOp<string mnemonic, string math>
    : Nuri_BinaryOp<mnemonic, math, [Commutative]> {
  let arguments = (ins Nuri_BoolTensor:$lhs, Nuri_BoolTensor:$rhs);
  let results = (outs Nuri_BoolTensor:$output);
}
def Nuri_AndOp : Nuri_LogicalBinaryOp<"and", "lhs and rhs">;
def Nuri_OrOp : Nuri_LogicalBinaryOp<"or", "lhs or rhs">;
def Nuri_XorOp : Nuri_LogicalBinaryOp<"xor", "lhs xor rhs">;

def Nuri_CompareOp : Nuri_Op<"compare", [Pure, InferTypeOpAdaptor]> {
  let summary = "elementwise comparison with broadcasting, to i1";
  let description = [{
    `output = lhs <predicate> rhs`, broadcast by numpy's rules; the result
    is a boolean (`i1`) tensor. Masks are built from these.

    ```mlir
    %m = nuri.compare eq, %ids, %zero : tensor<1x128xi64>, tensor<i64> -> tensor<1x128xi1>
    ```
  }];
  let arguments = (ins Nuri_ComparePredicateAttr:$predicate,
                   Nuri_Tensor:$lhs, Nuri_Tensor:$rhs);
  let results = (outs Nuri_BoolTensor:$output);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferBroadcast(location, {adaptor.getLhs(), adaptor.getRhs()}, /*boolResult=*/true, inferred)">.body;
  let hasFolder = 1;
}

def Nuri_WhereOp : Nuri_Op<"where", [Pure, InferTypeOpAdaptor]> {
  let summary = "select between two tensors by a boolean condition";
  let description = [{
    `output = condition ? on_true : on_false`, all three broadcast.

    ```mlir
    %y = nuri.where %mask, %scores, %neg_inf : tensor<1x1x128x128xi1>, tensor<1x12x128x128xf32>, tensor<f32> -> tensor<1x12x128x128xf32>
    ```
  }];
  let arguments = (ins Nuri_BoolTensor:$condition, Nuri_Tensor:$on_true,
                   Nuri_Tensor:$on_false);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:` type($condition) `,`
    type($on_true) `,` type($on_false) `->` type($output)
  }];
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferWhere(location, adaptor.getCondition(), adaptor.getOnTrue(), adaptor.getOnFalse(), inferred)">.body;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise unary ops
//===----------------------------------------------------------------------===//

class Nuri_UnaryOp<string mnemonic, string math, Type tensorType = Nuri_Tensor,
                   list<Trait> traits = []>
    : Nuri_Op<mnemonic, !listconcat(traits,
          [Pure, SameOperandsAndResultType, InferTypeOpInterface])> {
  let summary = "elementwise " # math;
  let description = [{
    `output = }] # math # [{` elementwise.

    ```mlir
    %y = nuri.}] # mnemonic # [{ %x : tensor<2x3xf32>
    ```
  }];
  let arguments = (ins tensorType:$input);
  let results = (outs tensorType:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
  let extraClassDefinition = [{
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return ::nuri::detail::foldUnary(getOperation(), adaptor.getInput());
    }
  }];
}

def Nuri_NegOp : Nuri_UnaryOp<"neg", "-input">;
def Nuri_AbsOp : Nuri_UnaryOp<"abs", "|input|">;
def Nuri_SignOp : Nuri_UnaryOp<"sign", "sign(input)">;
def Nuri_ReluOp : Nuri_UnaryOp<"relu", "max(input, 0)">;
def Nuri_ExpOp : Nuri_UnaryOp<"exp", "exp(input)", Nuri_FloatTensor>;
def Nuri_LogOp : Nuri_UnaryOp<"log", "log(input)", Nuri_FloatTensor>;
def Nuri_SqrtOp : Nuri_UnaryOp<"sqrt", "sqrt(input)", Nuri_FloatTensor>;
def Nuri_RsqrtOp : Nuri_UnaryOp<"rsqrt", "1 / sqrt(input)", Nuri_FloatTensor>;
def Nuri_ReciprocalOp : Nuri_UnaryOp<"reciprocal", "1 / input", Nuri_FloatTensor>;
def Nuri_TanhOp : Nuri_UnaryOp<"tanh", "tanh(input)", Nuri_FloatTensor>;
def Nuri_ErfOp : Nuri_UnaryOp<"erf", "erf(input)", Nuri_FloatTensor>;
def Nuri_SigmoidOp : Nuri_UnaryOp<"sigmoid", "1 / (1 + exp(-input))", Nuri_FloatTensor>;
def Nuri_SinOp : Nuri_UnaryOp<"sin", "sin(input)", Nuri_FloatTensor>;
def Nuri_CosOp : Nuri_UnaryOp<"cos", "cos(input)", Nuri_FloatTensor>;
def Nuri_CeilOp : Nuri_UnaryOp<"ceil", "ceil(input)", Nuri_FloatTensor>;
def Nuri_FloorOp : Nuri_UnaryOp<"floor", "floor(input)", Nuri_FloatTensor>;
def Nuri_RoundOp : Nuri_UnaryOp<"round", "round-half-to-even(input)", Nuri_FloatTensor>;
def Nuri_SiluOp : Nuri_UnaryOp<"silu", "input * sigmoid(input)", Nuri_FloatTensor>;
def Nuri_NotOp : Nuri_UnaryOp<"not", "not input", Nuri_BoolTensor>;

def Nuri_GeluOp : Nuri_Op<"gelu",
    [Pure, SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `approximate = none`: `0.5 * x * (1 + erf(x / sqrt(2)))` (BERT, ViT,
    Whisper). `approximate = tanh`:
    `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))` (GPT-2).

    ```mlir
    %y = nuri.gelu %x {approximate = #nuri<gelu tanh>} : tensor<1x128x3072xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input,
      DefaultValuedAttr<Nuri_GeluApproximationAttr,
                        "::nuri::GeluApproximation::None">:$approximate);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Nuri_ClipOp : Nuri_Op<"clip",
    [Pure, SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "clamp to [min, max]";
  let description = [{
    `output = min(max(input, min), max)`; either bound may be absent.

    ```mlir
    %y = nuri.clip %x {min = 0.0 : f64, max = 6.0 : f64} : tensor<4xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, OptionalAttr<F64Attr>:$min,
                   OptionalAttr<F64Attr>:$max);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Normalizations and softmax
//===----------------------------------------------------------------------===//

def Nuri_SoftmaxOp : Nuri_Op<"softmax", [Pure, InferTypeOpAdaptor]> {
  let summary = "softmax along one axis";
  let description = [{
    `output = exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`; with
    `log`, the logarithm of that (log-softmax).

    ```mlir
    %p = nuri.softmax %s {axis = 3 : i64} : tensor<1x12x128x128xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input, I64Attr:$axis, UnitAttr:$log);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferSameWithAxis(location, adaptor.getInput().getType(), adaptor.getAxisAttr(), inferred)">.body;
}

def Nuri_LayerNormOp : Nuri_Op<"layer_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes over dimensions `[axis, rank)`:
    `(x - mean) / sqrt(var + epsilon) * scale + bias`, with the biased
    variance. `scale` and the optional `bias` have the normalized shape (or
    broadcast to it).

    ```mlir
    %y = nuri.layer_norm %x, %gamma, %beta {axis = 2 : i64, epsilon = 1.0e-12 : f32} : (tensor<1x128x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x128x768xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input, Nuri_FloatTensor:$scale,
                   Optional<Nuri_FloatTensor>:$bias, I64Attr:$axis,
                   F32Attr:$epsilon);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferNorm(location, adaptor.getInput().getType(), adaptor.getScale().getType(), adaptor.getBias(), adaptor.getAxisAttr(), inferred)">.body;
}

def Nuri_RmsNormOp : Nuri_Op<"rms_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "root-mean-square normalization over the trailing dimensions";
  let description = [{
    `x / sqrt(mean(x^2 over [axis, rank)) + epsilon) * scale` (LLaMA).

    ```mlir
    %y = nuri.rms_norm %x, %gamma {axis = 2 : i64, epsilon = 1.0e-6 : f32} : (tensor<1x16x64xf32>, tensor<64xf32>) -> tensor<1x16x64xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input, Nuri_FloatTensor:$scale,
                   I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferNorm(location, adaptor.getInput().getType(), adaptor.getScale().getType(), ::mlir::Value(), adaptor.getAxisAttr(), inferred)">.body;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class Nuri_ReduceOp<string mnemonic, string math>
    : Nuri_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = math # " over a set of axes";
  let description = [{
    Reduces `input` by }] # math # [{ over `axes` (sorted, distinct, in
    range); with `keep_dims` the reduced dimensions stay with size 1. An
    empty `axes` reduces nothing.

    ```mlir
    %m = nuri.}] # mnemonic # [{ %x {axes = array<i64: 2>, keep_dims} : tensor<1x128x768xf32> -> tensor<1x128x1xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, DenseI64ArrayAttr:$axes,
                   UnitAttr:$keep_dims);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferReduce(location, adaptor.getInput().getType(), adaptor.getAxes(), adaptor.getKeepDims(), inferred)">.body # [{
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return ::nuri::detail::foldReduce(getOperation(), adaptor.getInput(), getAxes());
    }
  }];
  let hasFolder = 1;
}

def Nuri_ReduceSumOp : Nuri_ReduceOp<"reduce_sum", "sum">;
def Nuri_ReduceMeanOp : Nuri_ReduceOp<"reduce_mean", "mean">;
def Nuri_ReduceMaxOp : Nuri_ReduceOp<"reduce_max", "maximum">;
def Nuri_ReduceMinOp : Nuri_ReduceOp<"reduce_min", "minimum">;
def Nuri_ReduceProdOp : Nuri_ReduceOp<"reduce_prod", "product">;

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Nuri_TransposeOp : Nuri_Op<"transpose", [Pure, InferTypeOpAdaptor]> {
  let summary = "permute dimensions";
  let description = [{
    `output.shape[i] = input.shape[permutation[i]]`.

    ```mlir
    %t = nuri.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x128x12x64xf32> -> tensor<1x12x128x64xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferTranspose(location, adaptor.getInput().getType(), adaptor.getPermutation(), inferred)">.body;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Nuri_ReshapeOp : Nuri_Op<"reshape", [Pure]> {
  let summary = "reinterpret the shape, same elements in row-major order";
  let description = [{
    The result type gives the new shape; the element count is unchanged.

    ```mlir
    %r = nuri.reshape %x : tensor<1x128x768xf32> -> tensor<1x128x12x64xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Nuri_BroadcastToOp : Nuri_Op<"broadcast_to", [Pure]> {
  let summary = "broadcast to a larger shape (ONNX Expand)";
  let description = [{
    The input broadcasts to the result shape by numpy's rules.

    ```mlir
    %e = nuri.broadcast_to %x : tensor<1x1x128xf32> -> tensor<1x12x128xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Nuri_ConcatOp : Nuri_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "join tensors along an axis";
  let description = [{
    All inputs agree on every dimension but `axis`.

    ```mlir
    %c = nuri.concat %a, %b {axis = 1 : i64} : (tensor<1x1x192xf32>, tensor<1x196x192xf32>) -> tensor<1x197x192xf32>
    ```
  }];
  let arguments = (ins Variadic<Nuri_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferConcat(location, adaptor.getInputs(), adaptor.getAxisAttr(), inferred)">.body;
  let hasFolder = 1;
}

def Nuri_SliceOp : Nuri_Op<"slice", [Pure, InferTypeOpAdaptor]> {
  let summary = "strided slice, one (start, limit, step) per dimension";
  let description = [{
    For every dimension `d`, takes indices `start[d], start[d] + step[d],
    ...` while before `limit[d]` (after it, for negative steps). Starts and
    limits are already clamped into range; a negative step walks backwards
    and `limit = -1` then means "past index 0".

    ```mlir
    %h = nuri.slice %x {starts = array<i64: 0, 0, 32>, limits = array<i64: 1, 16, 64>, steps = array<i64: 1, 1, 1>} : tensor<1x16x64xf32> -> tensor<1x16x32xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, DenseI64ArrayAttr:$starts,
                   DenseI64ArrayAttr:$limits, DenseI64ArrayAttr:$steps);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferSlice(location, adaptor.getInput().getType(), adaptor.getStarts(), adaptor.getLimits(), adaptor.getSteps(), inferred)">.body;
  let hasFolder = 1;
}

def Nuri_SplitOp : Nuri_Op<"split", [Pure, InferTypeOpAdaptor]> {
  let summary = "split along an axis into pieces of the given sizes";
  let description = [{
    The sizes add up to the size of `axis`.

    ```mlir
    %q, %k, %v = nuri.split %qkv {axis = 2 : i64, sizes = array<i64: 768, 768, 768>} : tensor<1x128x2304xf32> -> (tensor<1x128x768xf32>, tensor<1x128x768xf32>, tensor<1x128x768xf32>)
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, I64Attr:$axis,
                   DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Nuri_Tensor>:$outputs);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($outputs)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferSplit(location, adaptor.getInput().getType(), adaptor.getAxisAttr(), adaptor.getSizes(), inferred)">.body;
}

def Nuri_GatherOp : Nuri_Op<"gather", [Pure, InferTypeOpAdaptor]> {
  let summary = "take slices along an axis by index (embedding lookup)";
  let description = [{
    `output.shape = input.shape[:axis] + indices.shape + input.shape[axis+1:]`.
    Negative indices count from the end, as in ONNX.

    ```mlir
    %e = nuri.gather %table, %ids {axis = 0 : i64} : tensor<30522x768xf32>, tensor<1x128xi64> -> tensor<1x128x768xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input, Nuri_IndexTensor:$indices,
                   I64Attr:$axis);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $indices attr-dict `:` type($input) `,` type($indices) `->` type($output)
  }];
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferGather(location, adaptor.getInput().getType(), adaptor.getIndices().getType(), adaptor.getAxisAttr(), inferred)">.body;
  let hasFolder = 1;
}

def Nuri_CastOp : Nuri_Op<"cast", [Pure]> {
  let summary = "convert element type";
  let description = [{
    Floats round to nearest even; float to integer truncates toward zero;
    to `i1` means `!= 0`. The shape is unchanged.

    ```mlir
    %f = nuri.cast %mask : tensor<1x128xi64> -> tensor<1x128xf32>
    ```
  }];
  let arguments = (ins Nuri_Tensor:$input);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Transformer building blocks
//===----------------------------------------------------------------------===//

def Nuri_RopeOp : Nuri_Op<"rope", [Pure, InferTypeOpAdaptor]> {
  let summary = "rotary position embedding, rotate-half form";
  let description = [{
    `output = input * cos + rotate_half(input) * sin`, where
    `rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2])` over the last
    dimension `D`. `cos` and `sin` broadcast to the input (typically
    `[B, 1, S, D]` against `[B, H, S, D]`).

    ```mlir
    %r = nuri.rope %q, %cos, %sin : (tensor<1x4x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<1x4x16x16xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input, Nuri_FloatTensor:$cos,
                   Nuri_FloatTensor:$sin);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferRope(location, adaptor.getInput().getType(), adaptor.getCos().getType(), adaptor.getSin().getType(), inferred)">.body;
}

def Nuri_AttentionOp : Nuri_Op<"attention", [Pure, InferTypeOpAdaptor]> {
  let summary = "scaled dot-product attention, multi-head or grouped-query";
  let description = [{
    `output = softmax(scale * query x key^T + mask) x value`, per head.
    Shapes: query `[B, Hq, Sq, D]`, key `[B, Hkv, Skv, D]`, value
    `[B, Hkv, Skv, Dv]`, output `[B, Hq, Sq, Dv]`. `Hq` is a multiple of
    `Hkv`: query head `h` reads key/value head `h / (Hq / Hkv)` (grouped-query
    attention; `Hkv = Hq` is multi-head). The optional mask broadcasts to
    `[B, Hq, Sq, Skv]`: a float mask is added to the scores, a boolean mask
    keeps the positions that are true. `causal` additionally hides key
    position `j` from query position `i` when `j > i + Skv - Sq`.

    ```mlir
    %o = nuri.attention %q, %k, %v, %mask {scale = 0.125 : f32} : (tensor<1x12x128x64xf32>, tensor<1x12x128x64xf32>, tensor<1x12x128x64xf32>, tensor<1x1x1x128xf32>) -> tensor<1x12x128x64xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$query, Nuri_FloatTensor:$key,
                   Nuri_FloatTensor:$value, Optional<Nuri_Tensor>:$mask,
                   F32Attr:$scale, UnitAttr:$causal);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferAttention(location, adaptor.getQuery().getType(), adaptor.getKey().getType(), adaptor.getValue().getType(), adaptor.getMask(), inferred)">.body;
}

//===----------------------------------------------------------------------===//
// KV cache (generation)
//===----------------------------------------------------------------------===//

def Nuri_CacheWriteOp : Nuri_Op<"cache_write", [Pure, InferTypeOpAdaptor]> {
  let summary = "write new key/value rows into a KV cache at run-time positions";
  let description = [{
    The KV cache of one layer, `[slots, heads, max_seq, dim]`, with the rows
    of `update` `[B, heads, T, dim]` written in: for every sequence `b`,
    `cache[slots[b], :, positions[b] + t, :] = update[b, :, t, :]` for
    `t < T`; every other element is the cache's. `slots` and `positions`
    are `[B]` run-time values: which cache slot a batch row owns and where
    its new tokens go. Positions past `max_seq - T`, slots past `slots - 1`
    and a slot named twice are run-time errors. The op has value semantics;
    the runtime runs it in place when the cache is an in-place state buffer
    (docs/generation.md), so a step writes only the new rows.

    ```mlir
    %c1 = nuri.cache_write %c0, %k, %slots, %pos : (tensor<8x4x256x32xf32>, tensor<2x4x1x32xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<8x4x256x32xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$cache, Nuri_FloatTensor:$update,
                   Nuri_IndexTensor:$slots, Nuri_IndexTensor:$positions);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferCacheWrite(location, adaptor.getCache().getType(), adaptor.getUpdate().getType(), adaptor.getSlots().getType(), adaptor.getPositions().getType(), inferred)">.body;
}

def Nuri_CacheAttentionOp : Nuri_Op<"cache_attention", [Pure, InferTypeOpAdaptor]> {
  let summary = "attention whose keys and values are a KV cache's prefix";
  let description = [{
    `nuri.attention` with key `key_cache[slots[b], :, 0:context_length, :]` and
    value `value_cache[slots[b], :, 0:context_length, :]` for batch row `b`, read
    where they lie in the cache (no gathered copy). Caches are
    `[slots, Hkv, max_seq, D]` (`Dv` for values), `context_length <= max_seq`; the
    mask broadcasts to `[B, Hq, Sq, context_length]` and hides the positions a
    sequence has not written. Grouped-query as `nuri.attention`.

    ```mlir
    %o = nuri.cache_attention %q, %kc, %vc, %slots, %mask {context_length = 64 : i64, scale = 0.176776692 : f32} : (tensor<2x4x1x32xf32>, tensor<8x4x256x32xf32>, tensor<8x4x256x32xf32>, tensor<2xi64>, tensor<2x1x1x64xf32>) -> tensor<2x4x1x32xf32>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$query, Nuri_FloatTensor:$key_cache,
                   Nuri_FloatTensor:$value_cache, Nuri_IndexTensor:$slots,
                   Optional<Nuri_Tensor>:$mask, I64Attr:$context_length,
                   F32Attr:$scale, UnitAttr:$causal);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = Nuri_InferBody<
      "::nuri::detail::inferCacheAttention(location, adaptor.getQuery().getType(), adaptor.getKeyCache().getType(), adaptor.getValueCache().getType(), adaptor.getSlots().getType(), adaptor.getMask(), adaptor.getContextLength(), inferred)">.body;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def Nuri_QuantizeOp : Nuri_Op<"quantize", [Pure]> {
  let summary = "affine quantization to an integer type";
  let description = [{
    `output = saturate(round_half_even(input / scale) + zero_point)`, per
    tensor (scalar scale) or per channel along `axis` (1-D scale). To fp8
    e4m3 (`f8E4M3FN`) the division is rounded to the nearest e4m3 value
    (even on ties) and saturates to +-448; there is no zero point.

    ```mlir
    %q = nuri.quantize %x, %scale, %zp {axis = 1 : i64} : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xi8>) -> tensor<4x8xi8>
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input, Nuri_FloatTensor:$scale,
                   Optional<Nuri_QdqTensor>:$zero_point,
                   DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Nuri_QdqTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Nuri_DequantizeOp : Nuri_Op<"dequantize", [Pure]> {
  let summary = "affine dequantization from an integer type";
  let description = [{
    `output = (input - zero_point) * scale`, per tensor or per channel along
    `axis`.

    ```mlir
    %x = nuri.dequantize %q, %scale, %zp : (tensor<4x8xi8>, tensor<f32>, tensor<i8>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Nuri_QdqTensor:$input, Nuri_FloatTensor:$scale,
                   Optional<Nuri_QdqTensor>:$zero_point,
                   DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Nuri_DequantizeBlockedOp : Nuri_Op<"dequantize_blocked", [Pure]> {
  let summary = "a weight stored in blocks of 4- or 8-bit values, made float";
  let description = [{
    The weight layout of ONNX Runtime's `MatMulNBits` (and of
    `--quantize w4a16`): per output column `n`, the `K` values along the
    reduction axis in blocks of `block_size`, each block with its own scale
    and zero point. `packed` is `[N, blocks, block_size * bits / 8]` ui8, the
    first of two 4-bit values in a byte's low bits; `scales` is
    `[N, blocks]`; `zero_points`, if present, is ui8
    `[N, ceil(blocks * bits / 8)]` packed the same way, and absent means
    `2^(bits - 1)` (8 for 4 bits). The result is the float `[K, N]` weight
    of a `linear`:

    `result[k, n] = (q[n, k] - zp[n, k / block_size]) * scales[n, k / block_size]`

    with `(blocks - 1) * block_size < K <= blocks * block_size` (the last
    block is padded).

    ```mlir
    %w = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 32 : i64} : (tensor<16x2x16xui8>, tensor<16x2xf32>) -> tensor<64x16xf32>
    ```
  }];
  let arguments = (ins Nuri_QuantTensor:$packed, Nuri_FloatTensor:$scales,
                   Optional<Nuri_QuantTensor>:$zero_points, I64Attr:$bits,
                   I64Attr:$block_size);
  let results = (outs Nuri_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Nuri_DynamicQuantizeOp : Nuri_Op<"dynamic_quantize", [Pure]> {
  let summary = "uint8 quantization with a scale and zero point from the data";
  let description = [{
    ONNX's DynamicQuantizeLinear: with `lo = min(0, min(input))` and
    `hi = max(0, max(input))`, `scale = (hi - lo) / 255`,
    `zero_point = saturate(round_half_even(-lo / scale))` and
    `output = saturate(round_half_even(input / scale) + zero_point)`, all in
    fp32. The scale and zero point are scalars.

    ```mlir
    %q, %s, %zp = nuri.dynamic_quantize %x : (tensor<1x8x32xf32>) -> (tensor<1x8x32xui8>, tensor<f32>, tensor<ui8>)
    ```
  }];
  let arguments = (ins Nuri_FloatTensor:$input);
  let results = (outs Nuri_QuantTensor:$output, Nuri_FloatTensor:$scale,
                      Nuri_QuantTensor:$zero_point);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Nuri_QuantizedMatmulOp : Nuri_Op<"quantized_matmul",
                                     [Pure, AttrSizedOperandSegments]> {
  let summary = "8-bit matrix product with a wide accumulator";
  let description = [{
    `acc[..., m, n] = sum_k (lhs[..., m, k] - lhs_zp) * (rhs[..., k, n] -
    rhs_zp[n])` in int32, batch dimensions broadcasting as in `matmul`.
    Operands are int8 or uint8, each zero point of its operand's type. The
    read-out has three forms:

    - no scales: the result is `acc` (i32), ONNX's MatMulInteger;
    - `scales(lhs_scale, rhs_scale)`: the float result is
      `f32(acc) * (lhs_scale * rhs_scale[n])`, the product of the scales
      taken first in fp32 (what ONNX Runtime's dynamic quantization writes as
      Cast and two Muls, and a DequantizeLinear pair around a MatMul);
    - `scales(...) requantize(output_scale, output_zp)`: the int8/uint8
      result is `saturate(round_half_even(f32(acc) * (lhs_scale * rhs_scale[n]
      / output_scale)) + output_zp)`, ONNX's QLinearMatMul.

    Or both operands are fp8 e4m3 (`--quantize fp8`, the fp8 tiles): the
    zero points are 0, each product is exact in fp32 and `acc` sums them in
    ascending `k` with one fp32 add per step from +0 (the matrix engine's
    order, so the CPU and the NPU agree bit for bit); only the float
    read-out applies.

    The per-channel rule: a `rhs` parameter (scale or zero point) is a scalar
    or has one value per output column (`rhs`'s last dimension); a `lhs`
    parameter is a scalar or has one value per row (`lhs`'s second-to-last
    dimension); the output parameters are scalars.

    ```mlir
    %y = nuri.quantized_matmul %a, %w zero_points(%azp, %wzp) scales(%as, %ws) : (tensor<1x8x32xui8>, tensor<32x16xi8>, tensor<ui8>, tensor<16xi8>, tensor<f32>, tensor<16xf32>) -> tensor<1x8x16xf32>
    ```
  }];
  let arguments = (ins Nuri_QdqTensor:$lhs, Nuri_QdqTensor:$rhs,
                   Nuri_QdqTensor:$lhs_zero_point,
                   Nuri_QdqTensor:$rhs_zero_point,
                   Optional<Nuri_FloatTensor>:$lhs_scale,
                   Optional<Nuri_FloatTensor>:$rhs_scale,
                   Optional<Nuri_FloatTensor>:$output_scale,
                   Optional<Nuri_QuantTensor>:$output_zero_point);
  let results = (outs Nuri_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs `zero_points` `(` $lhs_zero_point `,` $rhs_zero_point `)`
    (`scales` `(` $lhs_scale^ `,` $rhs_scale `)`)?
    (`requantize` `(` $output_scale^ `,` $output_zero_point `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Escape hatch
//===----------------------------------------------------------------------===//

def Nuri_OnnxOp : Nuri_Op<"onnx_op"> {
  let summary = "an ONNX node Nuri has no op for, kept for the CPU";
  let description = [{
    `nuri import --allow-unsupported` keeps nodes it cannot map as this op,
    with their ONNX attributes, so that the runtime's CPU device can run them
    where it has a kernel. Passes treat it as opaque.

    ```mlir
    %v, %i = nuri.onnx_op "TopK"(%x, %k) {domain = "", opset = 17 : i64, onnx_attributes = {axis = -1 : i64}} : (tensor<3x4xf32>, tensor<1xi64>) -> (tensor<3x3xf32>, tensor<3x3xi64>)
    ```
  }];
  let arguments = (ins StrAttr:$op_type, StrAttr:$domain, I64Attr:$opset,
                   DictionaryAttr:$onnx_attributes, Variadic<AnyTensor>:$inputs);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let assemblyFormat = [{
    $op_type `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)
  }];
}

#endif // NURI_DIALECT_NURI_IR_NURIOPS_TD
