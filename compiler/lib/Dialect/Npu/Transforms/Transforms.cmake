# The NPU passes (Passes.td in compiler/include/nuri/Dialect/Npu/Transforms),
# compiled into NuriNpuCodegen (compiler/lib/Conversion) with the kernels:
# the planning passes ask the kernels for their plans and the lowering runs
# the planning pipeline, so they are one library. NpuPlan.h is the
# vocabulary of the decisions the passes write, shared with the kernels
# and the lowering.
set(NPU_TRANSFORM_SOURCES
  ${NPU_TRANSFORMS_DIR}/NpuFuseEpilogues.cpp
  ${NPU_TRANSFORMS_DIR}/NpuPlanKernels.cpp
  ${NPU_TRANSFORMS_DIR}/NpuPlanMemory.cpp
  ${NPU_TRANSFORMS_DIR}/NpuQuantized.cpp
  ${NPU_TRANSFORMS_DIR}/NpuSelectLayouts.cpp
  ${NPU_TRANSFORMS_DIR}/NpuVerifySync.cpp
)
