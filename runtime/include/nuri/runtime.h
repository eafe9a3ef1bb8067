/*===- runtime.h - Nuri runtime C API -----------------------------*- C -*-===*
 *
 * Load a compiled model (.nuri), open a session on a device, run it.
 *
 *   nuri_model *model = NULL;
 *   nuri_status s = nuri_model_load_file("bert.nuri", NULL, &model);
 *   nuri_session_options opts;
 *   nuri_session_options_initialize(&opts);
 *   opts.device = "cpu";
 *   nuri_session *session = NULL;
 *   if (!s) s = nuri_session_create(model, &opts, &session);
 *   nuri_run *run = NULL;
 *   if (!s) s = nuri_run_create(session, &run);
 *   if (!s) s = nuri_run_bind_input(run, "x", NURI_DTYPE_F32, shape, 2,
 *                                   data, bytes);
 *   if (!s) s = nuri_run_execute(run);
 *   ...
 *   if (s) { fprintf(stderr, "%s\n", nuri_status_message(s)); }
 *   nuri_status_release(s);
 *   nuri_run_release(run); nuri_session_release(session);
 *   nuri_model_release(model);
 *
 * Conventions:
 * - Every fallible call returns a nuri_status: NULL on success, otherwise an
 *   error object the caller owns and frees with nuri_status_release.
 * - Out-parameters come last and are named out_*. On failure they are left
 *   untouched.
 * - `create`/`load` functions hand the caller a new handle it must release;
 *   accessors return borrowed pointers whose lifetime is stated.
 * - Every release function accepts NULL.
 *
 *===----------------------------------------------------------------------===*/

#ifndef NURI_RUNTIME_H
#define NURI_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define NURI_API __declspec(dllexport)
#else
#define NURI_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this API. A change of major breaks source or binary
 * compatibility; minor adds functions. */
/* 1.0: generic named counters replace the sim_* statistics; state buffers;
 * trace and profile session options.
 * 1.1: program families (generation packages): nuri_model_program_*,
 * nuri_model_generation_info, nuri_run_create_program, nuri_session_model,
 * and the generator (nuri_generator_*).
 * 1.2: nuri_live_object_count. */
#define NURI_RUNTIME_VERSION_MAJOR 1
#define NURI_RUNTIME_VERSION_MINOR 3
#define NURI_RUNTIME_VERSION_PATCH 0
#define NURI_RUNTIME_VERSION                                                   \
  (NURI_RUNTIME_VERSION_MAJOR * 10000 + NURI_RUNTIME_VERSION_MINOR * 100 +     \
   NURI_RUNTIME_VERSION_PATCH)

/* The version of the library linked at run time, in the form of
 * NURI_RUNTIME_VERSION; compare with the macro to detect a mismatch. */
NURI_API int nuri_version(void);
/* "1.2.0". Static storage. Thread-safe. */
NURI_API const char *nuri_version_string(void);

/* The models, sessions, runs and generators alive in the process (a model
 * counts while a session keeps it alive after its release). For leak
 * checks of code that creates and releases many handles. Thread-safe. */
NURI_API size_t nuri_live_object_count(void);

/*===------------------------------------------------------------------===*
 * Status
 *===------------------------------------------------------------------===*/

typedef enum nuri_status_code {
  NURI_OK = 0,
  NURI_INVALID_ARGUMENT = 1, /* bad handle, name, shape, dtype, option */
  NURI_NOT_FOUND = 2,        /* unknown input/output name or device */
  NURI_INVALID_PACKAGE = 3,  /* corrupt or unsupported .nuri file */
  NURI_IO_ERROR = 4,         /* cannot open/read a file */
  NURI_UNSUPPORTED = 5,      /* the device cannot run this model */
  NURI_EXECUTION_ERROR = 6,  /* a kernel or the simulator failed */
  NURI_OUT_OF_MEMORY = 7,
  NURI_INTERNAL = 8,
  NURI_BUSY = 9, /* the run is still executing */
} nuri_status_code;

/* An error; NULL means success. Owned by the caller. Not thread-safe to
 * share across threads while one of them releases it. */
typedef struct nuri_status_t *nuri_status;

/* NURI_OK for NULL. */
NURI_API nuri_status_code nuri_status_get_code(nuri_status status);
/* The message (names the file, input, op or reason); "" for NULL. Borrowed:
 * valid until the status is released. */
NURI_API const char *nuri_status_message(nuri_status status);
/* "NURI_INVALID_ARGUMENT", ... Static storage. */
NURI_API const char *nuri_status_code_name(nuri_status_code code);
NURI_API void nuri_status_release(nuri_status status);

/*===------------------------------------------------------------------===*
 * Tensors
 *===------------------------------------------------------------------===*/

/* Element types; the same numbering as the package format. */
typedef enum nuri_dtype {
  NURI_DTYPE_F32 = 0,
  NURI_DTYPE_F16 = 1,
  NURI_DTYPE_BF16 = 2,
  NURI_DTYPE_F64 = 3,
  NURI_DTYPE_I8 = 4,
  NURI_DTYPE_I16 = 5,
  NURI_DTYPE_I32 = 6,
  NURI_DTYPE_I64 = 7,
  NURI_DTYPE_U8 = 8,
  NURI_DTYPE_U16 = 9,
  NURI_DTYPE_U32 = 10,
  NURI_DTYPE_U64 = 11,
  NURI_DTYPE_BOOL = 12,
  NURI_DTYPE_F8E4M3 = 13,
  NURI_DTYPE_F8E5M2 = 14,
} nuri_dtype;

/* "f32", "bf16", ...; "?" for an unknown value. Static storage. */
NURI_API const char *nuri_dtype_name(nuri_dtype dtype);
/* Bytes per element; 0 for an unknown value. */
NURI_API size_t nuri_dtype_size(nuri_dtype dtype);

/* Describes a model input or output. Every pointer is borrowed from the
 * model and valid until the model is released. */
typedef struct nuri_tensor_info {
  const char *name;
  nuri_dtype dtype;
  size_t rank;
  const int64_t *shape;
  size_t byte_size; /* dense row-major */
  /* Quantization: real = scale * (q - zero_point); quant_count == 0 when
   * the tensor is not quantized; per channel along quant_axis when > 1. */
  size_t quant_count;
  const double *quant_scales;
  const int64_t *quant_zero_points; /* NULL means all zero */
  int32_t quant_axis;
} nuri_tensor_info;

/*===------------------------------------------------------------------===*
 * Model: an immutable, validated package.
 * Thread-safe: all functions may be called concurrently on one model.
 * Reference counted: sessions keep their model alive.
 *===------------------------------------------------------------------===*/

typedef struct nuri_model_t nuri_model;

typedef struct nuri_model_options {
  /* Verify the per-section and whole-file checksums (reads every byte of
   * the weights once). Default 1. */
  int verify_checksums;
  /* Refuse a model whose runs need more host memory than this (bytes for
   * intermediates and owned outputs, computed at load), so a hostile
   * package fails at load instead of exhausting the host. 0 (default) is
   * half the host's physical memory. */
  uint64_t max_run_bytes;
} nuri_model_options;

NURI_API void nuri_model_options_initialize(nuri_model_options *options);

/* Maps `path` read-only and validates it; weights are used in place.
 * `options` may be NULL for the defaults. The caller releases *out_model. */
NURI_API nuri_status nuri_model_load_file(const char *path,
                                          const nuri_model_options *options,
                                          nuri_model **out_model);
/* Copies `size` bytes (the caller may free `data` on return) and
 * validates them. The caller releases *out_model. */
NURI_API nuri_status nuri_model_load_memory(const void *data, size_t size,
                                            const nuri_model_options *options,
                                            nuri_model **out_model);
/* Drops the caller's reference; the model lives on while sessions use it. */
NURI_API void nuri_model_release(nuri_model *model);

/* The model's inputs and outputs. A program family has none of its own
 * (0): each of its programs has its I/O (nuri_model_program_input_info). */
NURI_API size_t nuri_model_input_count(const nuri_model *model);
NURI_API size_t nuri_model_output_count(const nuri_model *model);
/* Borrowed info (see nuri_tensor_info). NURI_INVALID_ARGUMENT for an index
 * out of range. */
NURI_API nuri_status nuri_model_input_info(const nuri_model *model,
                                           size_t index,
                                           nuri_tensor_info *out_info);
NURI_API nuri_status nuri_model_output_info(const nuri_model *model,
                                            size_t index,
                                            nuri_tensor_info *out_info);
/* Number of partitions and how many run on an NPU (0 for a program family,
 * whose partitions belong to its programs). */
NURI_API size_t nuri_model_partition_count(const nuri_model *model);
NURI_API size_t nuri_model_npu_partition_count(const nuri_model *model);
/* The target the package was compiled for ("cpu", "atom", ...). Borrowed
 * from the model. */
NURI_API const char *nuri_model_target(const nuri_model *model);
/* Nonzero for a timing-only package (`nuri compile --timing-only`): it holds
 * no NPU weights and runs only on "sim" with the session option
 * timing_only. */
NURI_API int32_t nuri_model_timing_only(const nuri_model *model);

/* State buffers the package declares (a decoder's KV cache): tensors the
 * session keeps across runs. Each run reads a state's contents and leaves
 * its new contents; they start as the package's initial value (zeros unless
 * it gives one). Of a program family: the states all its programs share.
 * Info is borrowed from the model (no quantization). */
NURI_API size_t nuri_model_state_count(const nuri_model *model);
NURI_API nuri_status nuri_model_state_info(const nuri_model *model,
                                           size_t index,
                                           nuri_tensor_info *out_info);

/*===------------------------------------------------------------------===*
 * Program families (generation packages)
 *
 * A package compiled for generation is a family of programs (prefill and
 * decode buckets) that share one weight blob and one set of state buffers
 * (the KV cache). A session over a family prepares every program once and
 * keeps one set of states; a run executes one program
 * (nuri_run_create_program), with that program's inputs and outputs.
 * Thread-safe like every model function.
 *===------------------------------------------------------------------===*/

typedef enum nuri_program_kind {
  NURI_PROGRAM_PREFILL = 0, /* the prompt (a length bucket) */
  NURI_PROGRAM_DECODE = 1,  /* one token per sequence */
} nuri_program_kind;

/* One program of a family. `name` is borrowed from the model. */
typedef struct nuri_program_info {
  const char *name;
  nuri_program_kind kind;
  uint32_t batch;   /* sequences per run (<= slots) */
  uint32_t tokens;  /* query tokens per sequence (1 for decode) */
  uint32_t context; /* cache positions attention reads (<= max_seq) */
  size_t input_count;
  size_t output_count;
} nuri_program_info;

/* The cache geometry of a family. */
typedef struct nuri_generation_info {
  uint32_t slots;   /* cache slots: the most sequences in flight */
  uint32_t max_seq; /* cache length in positions */
} nuri_generation_info;

/* Number of programs; 0 for a plain package (and NULL). */
NURI_API size_t nuri_model_program_count(const nuri_model *model);
/* Program `index` (< nuri_model_program_count). NURI_INVALID_ARGUMENT for
 * an index out of range. */
NURI_API nuri_status nuri_model_program_info(const nuri_model *model,
                                             size_t index,
                                             nuri_program_info *out_info);
/* Input / output `index` of program `program`, as nuri_model_input_info.
 * Borrowed from the model. */
NURI_API nuri_status nuri_model_program_input_info(const nuri_model *model,
                                                   size_t program, size_t index,
                                                   nuri_tensor_info *out_info);
NURI_API nuri_status nuri_model_program_output_info(const nuri_model *model,
                                                    size_t program,
                                                    size_t index,
                                                    nuri_tensor_info *out_info);
/* NURI_INVALID_ARGUMENT for a plain package. */
NURI_API nuri_status nuri_model_generation_info(const nuri_model *model,
                                                nuri_generation_info *out_info);

/*===------------------------------------------------------------------===*
 * Devices
 *===------------------------------------------------------------------===*/

/* Registered devices: "cpu", "sim", and "auto" (sim when the model has NPU
 * partitions, otherwise cpu). Names are static storage. Thread-safe. */
NURI_API size_t nuri_device_count(void);
NURI_API const char *nuri_device_name(size_t index);

/*===------------------------------------------------------------------===*
 * Session: a model on a device.
 * Thread-safe: any number of runs may execute concurrently on one session
 * (each run has its own buffers). A session prepares its model on its
 * devices once (the sim device keeps the weights in its memory from the
 * first run on); runs of a model with state buffers take turns, since each
 * continues from the state the previous one left (of a family: the runs of
 * all its programs, which share one set of states).
 *===------------------------------------------------------------------===*/

typedef struct nuri_session_t nuri_session;

typedef struct nuri_session_options {
  /* "cpu", "sim" or "auto" (default). Copied during create. */
  const char *device;
  /* Concurrency of the session's oneTBB task arena, where asynchronous
   * runs execute (with their kernels' parallel loops); 0 (default) uses
   * every core. Synchronous runs execute on the calling thread. */
  int32_t threads;
  /* Nonzero: devices record a Chrome/Perfetto trace of every partition they
   * run (the simulator's engine timelines), read with
   * nuri_run_get_partition_info. Default 0. */
  int32_t trace;
  /* Nonzero: the cpu device adds an "op_seconds.<op kind>" counter per op
   * kind to each CPU partition's counters. Default 0. */
  int32_t profile;
  /* Nonzero: the sim device simulates timing only (no data: NPU weights are
   * not loaded, states are not copied, outputs and states hold nothing
   * meaningful; the counters are the figures). Required for a timing-only
   * package (nuri_model_timing_only), allowed for any package; not on
   * "cpu". Default 0. */
  int32_t timing_only;
} nuri_session_options;

NURI_API void nuri_session_options_initialize(nuri_session_options *options);

/* Opens a session; it takes a reference to `model`. Fails with
 * NURI_NOT_FOUND for an unknown device and NURI_UNSUPPORTED when the device
 * cannot run the model (e.g. NPU partitions on "cpu"). The caller releases
 * *out_session. `options` may be NULL. */
NURI_API nuri_status nuri_session_create(nuri_model *model,
                                         const nuri_session_options *options,
                                         nuri_session **out_session);
/* Waits for the session's asynchronous runs to finish, then frees it. */
NURI_API void nuri_session_release(nuri_session *session);
/* The device the session runs on ("cpu" or "sim" after resolving "auto").
 * Borrowed from the session. */
NURI_API const char *nuri_session_device(const nuri_session *session);
/* The model the session runs, borrowed from the session (valid while it
 * lives; do not release it). */
NURI_API const nuri_model *nuri_session_model(const nuri_session *session);

/* State buffers of the session (see nuri_model_state_count), by name.
 * `byte_size` must be the state's size. Each call waits for the run that is
 * using the states to finish, so it sees a state between runs.
 * NURI_NOT_FOUND for an unknown name. */
NURI_API nuri_status nuri_session_read_state(nuri_session *session,
                                             const char *name, void *data,
                                             size_t byte_size);
NURI_API nuri_status nuri_session_write_state(nuri_session *session,
                                              const char *name,
                                              const void *data,
                                              size_t byte_size);
/* Restores the initial value of state `name`, or of every state for NULL. */
NURI_API nuri_status nuri_session_reset_state(nuri_session *session,
                                              const char *name);

/*===------------------------------------------------------------------===*
 * Run: the bindings, outputs and statistics of one inference.
 * Not thread-safe: one thread uses a run at a time; use one run per thread
 * for concurrency. A run may be executed again after it completed.
 *===------------------------------------------------------------------===*/

typedef struct nuri_run_t nuri_run;

/* The caller releases *out_run. The run keeps the session alive. Fails with
 * NURI_INVALID_ARGUMENT on a program family (naming its programs): use
 * nuri_run_create_program. */
NURI_API nuri_status nuri_run_create(nuri_session *session, nuri_run **out_run);
/* A run of program `program` of a family: binding, execution, outputs and
 * counters work as for nuri_run_create's runs, with the program's inputs
 * and outputs; it reads and updates the session's shared state buffers
 * (runs of any program take turns on them). `program` is read during the
 * call only.
 * NURI_NOT_FOUND for an unknown name (the message lists the programs),
 * NURI_INVALID_ARGUMENT for a plain package. The caller releases *out_run;
 * the run keeps the session alive. */
NURI_API nuri_status nuri_run_create_program(nuri_session *session,
                                             const char *program,
                                             nuri_run **out_run);
/* Waits for an asynchronous execution in flight, then frees the run and the
 * output buffers it owns. */
NURI_API void nuri_run_release(nuri_run *run);

/* Binds input `name` to caller memory, used in place (zero copy): `data`
 * must stay valid and unchanged until the execution completes. `dtype`,
 * `shape` and `byte_size` must match the model's input exactly; the error
 * names the input and the expected and given shape and dtype. */
NURI_API nuri_status nuri_run_bind_input(nuri_run *run, const char *name,
                                         nuri_dtype dtype, const int64_t *shape,
                                         size_t rank, const void *data,
                                         size_t byte_size);
/* Optionally binds output `name` to caller memory, written in place (zero
 * copy) by the partition that produces it. Unbound outputs go to buffers
 * the run owns. */
NURI_API nuri_status nuri_run_bind_output(nuri_run *run, const char *name,
                                          nuri_dtype dtype,
                                          const int64_t *shape, size_t rank,
                                          void *data, size_t byte_size);
/* Forgets all bindings. */
NURI_API void nuri_run_clear_bindings(nuri_run *run);

/* Runs to completion on the calling thread (the kernels' parallel loops
 * join oneTBB's default arena). Fails with NURI_INVALID_ARGUMENT for missing or
 * mismatched inputs, NURI_EXECUTION_ERROR when a kernel fails. */
NURI_API nuri_status nuri_run_execute(nuri_run *run);

/* Called once when an asynchronous execution completes, on a thread of the
 * session's arena. `status` is owned by the callee (release it). The run is
 * already complete when it is called: the callback may read its outputs or
 * execute it again; it must not release the run (a thread in nuri_run_wait
 * may already have resumed) and must return normally (a C++ exception
 * escaping it terminates the process). */
typedef void (*nuri_run_callback)(void *user_data, nuri_run *run,
                                  nuri_status status);
/* Validates the bindings, then queues the run on the session's arena and
 * returns. Binding errors are returned here (and the callback is not
 * called); execution errors arrive through the callback. */
NURI_API nuri_status nuri_run_execute_async(nuri_run *run,
                                            nuri_run_callback callback,
                                            void *user_data);
/* Blocks until an asynchronous execution completes (returns at once if
 * none is in flight). */
NURI_API void nuri_run_wait(nuri_run *run);

/* The output `name` of the last completed execution: its info and data.
 * Borrowed: valid until the run is executed again, cleared or released.
 * NURI_NOT_FOUND for an unknown name, NURI_BUSY while executing. */
NURI_API nuri_status nuri_run_get_output(nuri_run *run, const char *name,
                                         nuri_tensor_info *out_info,
                                         const void **out_data);

/* A named figure of the last completed execution. The names are generic
 * (a real driver reports the same ones); docs/runtime.md lists them:
 * wall_seconds, partitions_run, npu_partitions_run, cycles, device_seconds,
 * mac_utilization, dram_bytes, device_weight_bytes_written,
 * device_prepare_seconds, host_to_device_bytes, device_to_host_bytes,
 * op_seconds.<kind>, ... A device reports only the counters it knows. `name` is
 * borrowed from the run: valid until it executes again, is cleared or released.
 */
typedef struct nuri_counter {
  const char *name;
  double value;
} nuri_counter;

/* Run-level counters: each partition counter summed over the partitions
 * (mac_utilization cycle-weighted), wall_seconds of the whole execution.
 * The count is 0 before an execution completed or while one is running. */
NURI_API size_t nuri_run_counter_count(const nuri_run *run);
NURI_API nuri_status nuri_run_get_counter(const nuri_run *run, size_t index,
                                          nuri_counter *out_counter);
/* NURI_NOT_FOUND when no device reported `name` in this run. */
NURI_API nuri_status nuri_run_find_counter(const nuri_run *run,
                                           const char *name, double *out_value);

/* The partitions of the last completed execution, in schedule order. */
NURI_API size_t nuri_run_partition_count(const nuri_run *run);

typedef struct nuri_partition_info {
  const char *name;   /* borrowed from the run */
  const char *device; /* the device that ran it ("cpu", "sim") */
  size_t counter_count;
  /* Chrome/Perfetto trace JSON of this partition ("" unless the session's
   * trace option is on and the device traces). Borrowed from the run. */
  const char *trace_json;
} nuri_partition_info;

NURI_API nuri_status nuri_run_get_partition_info(const nuri_run *run,
                                                 size_t index,
                                                 nuri_partition_info *out_info);
/* Counter `index` (< counter_count) of partition `partition`. */
NURI_API nuri_status nuri_run_get_partition_counter(const nuri_run *run,
                                                    size_t partition,
                                                    size_t index,
                                                    nuri_counter *out_counter);

/*===------------------------------------------------------------------===*
 * Generator: token generation over a program family
 *
 * A generator drives a session of a generation package
 * (`nuri compile --generate`): requests (prompt token ids) are added at any
 * time and queue until a cache slot is free; each step prefills the queued
 * requests that fit (each then emits its first token) and runs one decode
 * step over every request holding a slot, with the smallest
 * decode program whose batch holds them and whose context covers the
 * longest of them (continuous batching). A finished request frees its slot
 * at once. The KV cache stays in the session's state buffers: a decode step
 * sends only token ids, positions, the mask and the slots.
 *
 * Sampling is greedy at temperature 0; otherwise logits are divided by the
 * temperature after the repetition penalty, cut to the top-k and the top-p
 * mass, and sampled with a per-request generator seeded from `seed` and the
 * request id, so a request's tokens do not depend on what it is batched
 * with. One thread drives a generator (not thread-safe); two generators
 * must not drive one session at the same time (they would share its cache).
 *===------------------------------------------------------------------===*/

typedef struct nuri_generator_t nuri_generator;

typedef struct nuri_generator_options {
  uint32_t max_new_tokens;    /* per request; default 64 */
  float temperature;          /* 0: greedy (default) */
  uint32_t top_k;             /* 0: all tokens */
  float top_p;                /* 1: all tokens */
  float repetition_penalty;   /* 1: none; >1 discourages repeats */
  uint64_t seed;              /* default 0 */
  const int64_t *stop_tokens; /* a request stops after emitting one */
  size_t stop_token_count;
} nuri_generator_options;

typedef enum nuri_stop_reason {
  NURI_STOP_NONE = 0,  /* queued or generating */
  NURI_STOP_TOKEN = 1, /* emitted a stop token ("stop") */
  NURI_STOP_LENGTH =
      2, /* max_new_tokens reached or the cache is full ("length") */
} nuri_stop_reason;

/* Called for every token as it is generated; `finished` is 1 on the
 * request's last token. Runs on the thread calling nuri_generator_step. */
typedef void (*nuri_token_callback)(void *user_data, uint64_t request_id,
                                    int64_t token, int finished);

NURI_API void
nuri_generator_options_initialize(nuri_generator_options *options);
/* `options` may be NULL (defaults); its stop tokens are copied. The
 * generator keeps the session alive; the caller releases *out_generator.
 * NURI_INVALID_ARGUMENT when the session's model is not a generation
 * package or its programs lack an input the generator feeds. */
NURI_API nuri_status nuri_generator_create(
    nuri_session *session, const nuri_generator_options *options,
    nuri_generator **out_generator);
NURI_API void nuri_generator_release(nuri_generator *generator);
/* Queues a request; the prompt is copied. NURI_INVALID_ARGUMENT for an
 * empty prompt, a token outside the vocabulary (naming its index), or a
 * prompt that leaves no cache position to generate into or is longer than
 * the largest prefill program (naming both lengths). */
NURI_API nuri_status nuri_generator_add_request(nuri_generator *generator,
                                                const int64_t *prompt,
                                                size_t length,
                                                uint64_t *out_request_id);
/* One scheduling step (see above). `callback` may be NULL. Sets
 * *out_pending (may be NULL) to the number of requests queued or still
 * generating afterwards. A failed run fails the step with its message. */
NURI_API nuri_status nuri_generator_step(nuri_generator *generator,
                                         nuri_token_callback callback,
                                         void *user_data, size_t *out_pending);
/* Steps until no request is queued or generating. */
NURI_API nuri_status nuri_generator_run(nuri_generator *generator,
                                        nuri_token_callback callback,
                                        void *user_data);

typedef struct nuri_request_info {
  size_t prompt_length;
  const int64_t *tokens; /* generated so far; borrowed until the next step */
  size_t token_count;
  nuri_stop_reason stop_reason;
} nuri_request_info;
NURI_API nuri_status
nuri_generator_request_info(const nuri_generator *generator,
                            uint64_t request_id, nuri_request_info *out_info);
/* Counters summed over the generator's runs of one phase ("prefill" or
 * "decode"): every run counter (cycles, device_seconds, wall_seconds,
 * host_to_device_bytes, ...), plus "runs", "tokens" (prompt tokens
 * prefilled or tokens decoded) and "steps". 0 for names never reported. */
NURI_API double nuri_generator_counter(const nuri_generator *generator,
                                       const char *phase, const char *name);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NURI_RUNTIME_H */
