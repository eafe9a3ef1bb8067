// The translation unit that builds the compiler's precompiled MLIR header
// (compiler/CMakeLists.txt, NURI_MLIR_PCH); it defines nothing.
