# The NPU kernels, compiled into NuriNpuCodegen (compiler/lib/Conversion):
# the registry, the context kernels see, and one MLIR side plus one
# MLIR-free core per kernel.
set(NPU_KERNEL_SOURCES
  ${NPU_KERNELS_DIR}/KernelContext.cpp
  ${NPU_KERNELS_DIR}/Registry.cpp
  ${NPU_KERNELS_DIR}/Attention.cpp
  ${NPU_KERNELS_DIR}/AttentionCore.cpp
  ${NPU_KERNELS_DIR}/CacheAttention.cpp
  ${NPU_KERNELS_DIR}/CacheWrite.cpp
  ${NPU_KERNELS_DIR}/Copy.cpp
  ${NPU_KERNELS_DIR}/Gemm.cpp
  ${NPU_KERNELS_DIR}/GemmCore.cpp
  ${NPU_KERNELS_DIR}/Quantize.cpp
  ${NPU_KERNELS_DIR}/QuantizedGemm.cpp
  ${NPU_KERNELS_DIR}/Rowwise.cpp
  ${NPU_KERNELS_DIR}/RowwiseCore.cpp
  ${NPU_KERNELS_DIR}/Transpose.cpp
  ${NPU_KERNELS_DIR}/TransposeCore.cpp
)
