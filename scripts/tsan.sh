#!/usr/bin/env bash
# Builds the runtime's concurrency stress test with ThreadSanitizer in
# build-tsan/ (no compiler: the runtime never needs LLVM) and runs it.
# Serialized with the other builds through /tmp/nuri-build.lock.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_TSAN_BUILD_DIR:-$root/build-tsan}
lock=${NURI_BUILD_LOCK:-/tmp/nuri-build.lock}
# The kernels pick GEMM code with target_clones: the loader calls those
# ifunc resolvers before ThreadSanitizer is initialized, so they must not
# call __tsan_func_entry. Without function entry/exit hooks every access is
# still checked; reports show the racing frames but shorter stacks.
tsan_flags="-fsanitize=thread --param=tsan-instrument-func-entry-exit=0"
if [ ! -f "$build/CMakeCache.txt" ]; then
  flock "$lock" cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNURI_BUILD_COMPILER=OFF \
    -DNURI_BUILD_TESTS=ON \
    -DCMAKE_CXX_FLAGS="$tsan_flags" -DCMAKE_C_FLAGS="$tsan_flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread"
fi
flock "$lock" cmake --build "$build" -j2 --target NuriRuntimeStressTest
# oneTBB itself is not instrumented: its internal hand-offs are invisible to
# TSAN, so reports whose every frame is inside libtbb are suppressed (see
# the file); any report with a Nuri frame still fails the run.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 print_suppressions=1 suppressions=$root/scripts/tsan.supp ${TSAN_OPTIONS:-}"
# Kernel-internal parallel loops hand work to oneTBB workers and join them
# inside libtbb, where TSAN cannot see the synchronization (it would report
# every buffer freed after a parallel_for). So the kernels run serially here
# and TSAN checks the runtime: 8 caller threads sharing a session, async
# runs handed to the session arena's worker. The normal build's stress test
# covers parallel kernels by comparing every output byte for byte.
export NURI_TBB_MAX_PARALLELISM=${NURI_TBB_MAX_PARALLELISM:-1}
"$build/bin/NuriRuntimeStressTest" "$@"
