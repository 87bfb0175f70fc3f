/*
 * RowBlend: bLVNet-TAM's temporal blend as one onnxruntime custom op (CPU), so a TAM costs one pass
 * over its map instead of three depthwise convs and two frame shifts (see emitRowBlend in
 * src/onnx/onnxops.ts for the node it runs, and src/ort/native-ops.ts, which compiles this file and
 * registers it with a session).
 *
 *   out[n, j] = [ReLU]( sum_k w[k] (per channel) * base[term_base[k]][n, patterns[k][j]] )
 *
 * for clip n and output row j; a pattern entry of -1 reads a zero row. Inputs: w [K, C], then the
 * bases [clips * base_rows[b], C, H, W]. Attribute `block` (set by the rewrite in nchwc-reorders.ts)
 * says the maps are in onnxruntime's channel-blocked layout [rows, C/block, H, W, block]; 1 is NCHW.
 *
 * Written against onnxruntime's C API by hand (no header is shipped with onnxruntime-node): the API
 * is a table of function pointers whose indices never change (onnxruntime only appends), and the
 * OrtCustomOp struct below is its layout up to the members read at `version` 16 (V2 kernels, variadic inputs).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct OrtStatus OrtStatus;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtValue OrtValue;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;

typedef struct OrtApiBase {
  const void *(*GetApi)(uint32_t version);
  const char *(*GetVersionString)(void);
} OrtApiBase;

/* OrtCustomOp, members 0..18 (what onnxruntime reads at version 16); the rest stay zero. */
typedef struct OrtCustomOp {
  uint32_t version;
  void *(*CreateKernel)(const struct OrtCustomOp *, const void *api, const OrtKernelInfo *);
  const char *(*GetName)(const struct OrtCustomOp *);
  const char *(*GetExecutionProviderType)(const struct OrtCustomOp *);
  int (*GetInputType)(const struct OrtCustomOp *, size_t);
  size_t (*GetInputTypeCount)(const struct OrtCustomOp *);
  int (*GetOutputType)(const struct OrtCustomOp *, size_t);
  size_t (*GetOutputTypeCount)(const struct OrtCustomOp *);
  void (*KernelCompute)(void *, OrtKernelContext *);
  void (*KernelDestroy)(void *);
  int (*GetInputCharacteristic)(const struct OrtCustomOp *, size_t);
  int (*GetOutputCharacteristic)(const struct OrtCustomOp *, size_t);
  int (*GetInputMemoryType)(const struct OrtCustomOp *, size_t);
  int (*GetVariadicInputMinArity)(const struct OrtCustomOp *);
  int (*GetVariadicInputHomogeneity)(const struct OrtCustomOp *);
  int (*GetVariadicOutputMinArity)(const struct OrtCustomOp *);
  int (*GetVariadicOutputHomogeneity)(const struct OrtCustomOp *);
  OrtStatus *(*CreateKernelV2)(const struct OrtCustomOp *, const void *api, const OrtKernelInfo *, void **kernel);
  OrtStatus *(*KernelComputeV2)(void *, OrtKernelContext *);
  void *unused[7]; /* InferOutputShapeFn .. ReleaseAliasMap (read from version 17 on) */
} OrtCustomOp;

/* OrtApi members used here, by index in its function table. */
typedef OrtStatus *(*CreateStatusFn)(int code, const char *msg);
typedef OrtStatus *(*CreateCustomOpDomainFn)(const char *domain, OrtCustomOpDomain **out);
typedef OrtStatus *(*CustomOpDomainAddFn)(OrtCustomOpDomain *domain, const OrtCustomOp *op);
typedef OrtStatus *(*AddCustomOpDomainFn)(OrtSessionOptions *options, OrtCustomOpDomain *domain);
typedef OrtStatus *(*GetTensorMutableDataFn)(OrtValue *value, void **out);
typedef OrtStatus *(*GetDimensionsCountFn)(const OrtTensorTypeAndShapeInfo *info, size_t *out);
typedef OrtStatus *(*GetDimensionsFn)(const OrtTensorTypeAndShapeInfo *info, int64_t *dims, size_t n);
typedef OrtStatus *(*GetTensorTypeAndShapeFn)(const OrtValue *value, OrtTensorTypeAndShapeInfo **out);
typedef OrtStatus *(*GetAttributeInt64Fn)(const OrtKernelInfo *info, const char *name, int64_t *out);
typedef OrtStatus *(*GetInputCountFn)(const OrtKernelContext *context, size_t *out);
typedef OrtStatus *(*GetInputFn)(const OrtKernelContext *context, size_t index, const OrtValue **out);
typedef OrtStatus *(*GetOutputFn)(OrtKernelContext *context, size_t index, const int64_t *dims, size_t n, OrtValue **out);
typedef void (*ReleaseFn)(void *);
typedef OrtStatus *(*GetAttributeArrayInt64Fn)(const OrtKernelInfo *info, const char *name, int64_t *out, size_t *size);
typedef OrtStatus *(*ParallelForFn)(const OrtKernelContext *context, void (*fn)(void *, size_t), size_t total, size_t batches, void *data);

enum {
  API_CreateStatus = 0,
  API_CreateCustomOpDomain = 26,
  API_CustomOpDomain_Add = 27,
  API_AddCustomOpDomain = 28,
  API_GetTensorMutableData = 51,
  API_GetDimensionsCount = 61,
  API_GetDimensions = 62,
  API_GetTensorTypeAndShape = 65,
  API_KernelInfoGetAttribute_int64 = 86,
  API_KernelContext_GetInputCount = 88,
  API_KernelContext_GetInput = 90,
  API_KernelContext_GetOutput = 91,
  API_ReleaseTensorTypeAndShapeInfo = 99,
  API_KernelInfoGetAttributeArray_int64 = 163,
  API_KernelContext_ParallelFor = 274, /* since API version 17 */
};

#define ELEMENT_FLOAT 1
#define ORT_FAIL 1
#define ORT_INVALID_ARGUMENT 2
#define INPUT_OUTPUT_REQUIRED 0
#define INPUT_OUTPUT_VARIADIC 2
#define MAX_RANK 8

static void *const *api;
/* Whether the table has KernelContext_ParallelFor (onnxruntime >= 1.17); else the kernel runs on one thread. */
static int have_parallel_for;
#define APIX(index, type) ((type)api[index])

static OrtStatus *fail(int code, const char *msg) { return APIX(API_CreateStatus, CreateStatusFn)(code, msg); }

/* ---- the kernel ------------------------------------------------------------------------------ */

typedef struct {
  int64_t terms, bases, relu, block;
  int64_t *base_rows;  /* [bases] input rows per clip */
  int64_t *term_base;  /* [terms] */
  int64_t *patterns;   /* [terms * rows] source row (in its base's clip) of each output row, -1 = zero */
  int64_t rows;        /* output rows per clip */
} Blend;

static OrtStatus *int_array(const OrtKernelInfo *info, const char *name, int64_t **out, size_t *n) {
  GetAttributeArrayInt64Fn get = APIX(API_KernelInfoGetAttributeArray_int64, GetAttributeArrayInt64Fn);
  *n = 0;
  OrtStatus *s = get(info, name, NULL, n);
  if (s) return s;
  *out = malloc((*n ? *n : 1) * sizeof(int64_t));
  if (!*out) return fail(ORT_FAIL, "RowBlend: out of memory");
  return get(info, name, *out, n);
}

static void destroy(void *kernel) {
  Blend *b = kernel;
  if (!b) return;
  free(b->base_rows);
  free(b->term_base);
  free(b->patterns);
  free(b);
}

static OrtStatus *create(const OrtCustomOp *op, const void *unused, const OrtKernelInfo *info, void **kernel) {
  (void)op;
  (void)unused;
  Blend *b = calloc(1, sizeof(Blend));
  if (!b) return fail(ORT_FAIL, "RowBlend: out of memory");
  size_t nb = 0, nt = 0, np = 0;
  OrtStatus *s = int_array(info, "base_rows", &b->base_rows, &nb);
  if (!s) s = int_array(info, "term_base", &b->term_base, &nt);
  if (!s) s = int_array(info, "patterns", &b->patterns, &np);
  if (!s) s = APIX(API_KernelInfoGetAttribute_int64, GetAttributeInt64Fn)(info, "relu", &b->relu);
  if (!s && APIX(API_KernelInfoGetAttribute_int64, GetAttributeInt64Fn)(info, "block", &b->block)) b->block = 1; /* absent: NCHW */
  if (s) {
    destroy(b);
    return s;
  }
  b->bases = (int64_t)nb;
  b->terms = (int64_t)nt;
  b->rows = nt ? (int64_t)(np / nt) : 0;
  int ok = nb > 0 && nt > 0 && np == nt * (size_t)b->rows && b->rows > 0 && (b->block == 1 || b->block == 4 || b->block == 8 || b->block == 16);
  for (size_t k = 0; ok && k < nt; k++) {
    int64_t base = b->term_base[k];
    ok = base >= 0 && base < b->bases;
    for (int64_t j = 0; ok && j < b->rows; j++) ok = b->patterns[k * b->rows + j] >= -1 && b->patterns[k * b->rows + j] < b->base_rows[base];
  }
  if (!ok) {
    destroy(b);
    return fail(ORT_INVALID_ARGUMENT, "RowBlend: inconsistent attributes");
  }
  *kernel = b;
  return NULL;
}

/* One run's work: items are (clip, output row, channel block). */
typedef struct {
  const Blend *b;
  const float *w;
  const float **bases;
  float *out;
  int64_t channels, plane, channel_blocks;
} Job;

/*
 * out[s*B + l] = [ReLU](sum_t w[t][l] * x[t][s*B + l]) over a plane of B-channel blocks (onnxruntime's
 * blocked layout): one B-float vector per position, so the weights of a term are one register.
 */
#define BLEND_BLOCKED(B)                                                                                        \
  typedef float f##B __attribute__((vector_size(B * 4), aligned(4)));                                           \
  typedef int32_t i##B __attribute__((vector_size(B * 4), aligned(4)));                                         \
  static void blend##B(float *o, const float *const *x, const float *const *w, int n, int64_t plane, int relu) { \
    f##B wv[64], zero = {0};                                                                                    \
    for (int t = 0; t < n; t++) memcpy(&wv[t], w[t], sizeof(f##B));                                            \
    for (int64_t s = 0; s < plane; s++) {                                                                       \
      f##B acc = zero;                                                                                          \
      for (int t = 0; t < n; t++) acc += wv[t] * *(const f##B *)(x[t] + s * B);                                 \
      if (relu) acc = (f##B)((i##B)acc & (acc > zero));                                                         \
      *(f##B *)(o + s * B) = acc;                                                                               \
    }                                                                                                           \
  }
BLEND_BLOCKED(16)
BLEND_BLOCKED(8)
BLEND_BLOCKED(4)

/* NCHW: one weight per term over a whole plane (summed from zero, in term order, as the blocked kernels). */
static void blend1(float *o, const float *const *x, const float *const *w, int n, int64_t plane, int relu) {
  memset(o, 0, (size_t)plane * sizeof(float));
  for (int t = 0; t < n; t++)
    for (int64_t s = 0; s < plane; s++) o[s] += w[t][0] * x[t][s];
  if (relu)
    for (int64_t s = 0; s < plane; s++) o[s] = o[s] < 0 ? 0 : o[s];
}

static void run_item(void *data, size_t item) {
  const Job *job = data;
  const Blend *b = job->b;
  int64_t block = b->block, g = (int64_t)item % job->channel_blocks, rest = (int64_t)item / job->channel_blocks;
  int64_t j = rest % b->rows, clip = rest / b->rows;
  int64_t frame = job->channels * job->plane, offset = g * job->plane * block;
  const float *x[64], *w[64];
  int n = 0;
  for (int64_t k = 0; k < b->terms && n < 64; k++) {
    int64_t r = b->patterns[k * b->rows + j];
    if (r < 0) continue;
    int64_t base = b->term_base[k];
    x[n] = job->bases[base] + (clip * b->base_rows[base] + r) * frame + offset;
    w[n] = job->w + k * job->channels + g * block;
    n++;
  }
  float *o = job->out + (clip * b->rows + j) * frame + offset;
  int relu = (int)b->relu;
  switch (block) {
    case 16: blend16(o, x, w, n, job->plane, relu); break;
    case 8: blend8(o, x, w, n, job->plane, relu); break;
    case 4: blend4(o, x, w, n, job->plane, relu); break;
    default: blend1(o, x, w, n, job->plane, relu); break;
  }
}

static OrtStatus *shape_of(const OrtValue *v, int64_t *dims, size_t *rank) {
  OrtTensorTypeAndShapeInfo *info = NULL;
  OrtStatus *s = APIX(API_GetTensorTypeAndShape, GetTensorTypeAndShapeFn)(v, &info);
  if (!s) s = APIX(API_GetDimensionsCount, GetDimensionsCountFn)(info, rank);
  if (!s && *rank > MAX_RANK) s = fail(ORT_INVALID_ARGUMENT, "RowBlend: rank too large");
  if (!s) s = APIX(API_GetDimensions, GetDimensionsFn)(info, dims, *rank);
  if (info) APIX(API_ReleaseTensorTypeAndShapeInfo, ReleaseFn)(info);
  return s;
}

static OrtStatus *compute(void *kernel, OrtKernelContext *ctx) {
  const Blend *b = kernel;
  size_t inputs = 0;
  OrtStatus *s = APIX(API_KernelContext_GetInputCount, GetInputCountFn)(ctx, &inputs);
  if (s) return s;
  if ((int64_t)inputs != 1 + b->bases || b->terms > 64) return fail(ORT_INVALID_ARGUMENT, "RowBlend: wrong number of inputs");
  const OrtValue *wv = NULL;
  int64_t wd[MAX_RANK], d0[MAX_RANK], d[MAX_RANK];
  size_t wr = 0, r0 = 0, r = 0;
  if ((s = APIX(API_KernelContext_GetInput, GetInputFn)(ctx, 0, &wv)) || (s = shape_of(wv, wd, &wr))) return s;
  const float *bases[64];
  void *p = NULL;
  int64_t clips = 0;
  for (int64_t i = 0; i < b->bases && i < 64; i++) {
    const OrtValue *v = NULL;
    if ((s = APIX(API_KernelContext_GetInput, GetInputFn)(ctx, (size_t)(1 + i), &v)) || (s = shape_of(v, i ? d : d0, i ? &r : &r0))) return s;
    if (i == 0) {
      if (r0 != 4 || d0[0] % b->base_rows[0]) return fail(ORT_INVALID_ARGUMENT, "RowBlend: a base is not [clips*rows, C, H, W]");
      clips = d0[0] / b->base_rows[0];
    } else if (r != 4 || d[0] != clips * b->base_rows[i] || d[1] != d0[1] || d[2] != d0[2] || d[3] != d0[3]) {
      return fail(ORT_INVALID_ARGUMENT, "RowBlend: bases differ in clips or map shape");
    }
    if ((s = APIX(API_GetTensorMutableData, GetTensorMutableDataFn)((OrtValue *)v, &p))) return s;
    bases[i] = p;
  }
  int64_t channels = d0[1], plane = d0[2] * d0[3];
  if (wr != 2 || wd[0] != b->terms || wd[1] != channels || channels % b->block)
    return fail(ORT_INVALID_ARGUMENT, "RowBlend: weights are not [terms, C] or C is not whole blocks");
  if ((s = APIX(API_GetTensorMutableData, GetTensorMutableDataFn)((OrtValue *)wv, &p))) return s;
  const float *w = p;
  int64_t od[4] = {clips * b->rows, channels, d0[2], d0[3]};
  OrtValue *ov = NULL;
  if ((s = APIX(API_KernelContext_GetOutput, GetOutputFn)(ctx, 0, od, 4, &ov)) || (s = APIX(API_GetTensorMutableData, GetTensorMutableDataFn)(ov, &p))) return s;
  Job job = {b, w, bases, p, channels, plane, channels / b->block};
  size_t items = (size_t)(clips * b->rows * job.channel_blocks);
  if (have_parallel_for) return APIX(API_KernelContext_ParallelFor, ParallelForFn)(ctx, run_item, items, 0, &job);
  for (size_t i = 0; i < items; i++) run_item(&job, i);
  return NULL;
}

/* ---- the op and its registration ----------------------------------------------------------- */

static const char *op_name(const OrtCustomOp *op) { (void)op; return "RowBlend"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static int op_float(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ELEMENT_FLOAT; }
static size_t op_two(const OrtCustomOp *op) { (void)op; return 2; }
static size_t op_one(const OrtCustomOp *op) { (void)op; return 1; }
/* input 0: the weights; input 1: the bases, variadic (one or more, all float) */
static int op_input_kind(const OrtCustomOp *op, size_t i) { (void)op; return i == 1 ? INPUT_OUTPUT_VARIADIC : INPUT_OUTPUT_REQUIRED; }
static int op_required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return INPUT_OUTPUT_REQUIRED; }
static int op_default_memory(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; }
static int op_int_one(const OrtCustomOp *op) { (void)op; return 1; }

static OrtCustomOp row_blend_op;
static OrtCustomOpDomain *domain;

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

/* Called by onnxruntime's RegisterCustomOpsLibrary(_V2). The domain lives as long as the process. */
EXPORT OrtStatus *RegisterCustomOps(OrtSessionOptions *options, const OrtApiBase *base) {
  const void *table = base->GetApi(17);
  have_parallel_for = table != NULL;
  if (!table) table = base->GetApi(16);
  if (!table) return NULL; /* too old to report an error through; the session then fails on the unknown op */
  api = table;
  if (!domain) {
    row_blend_op.version = 16;
    row_blend_op.GetName = op_name;
    row_blend_op.GetExecutionProviderType = op_provider;
    row_blend_op.GetInputType = op_float;
    row_blend_op.GetInputTypeCount = op_two;
    row_blend_op.GetOutputType = op_float;
    row_blend_op.GetOutputTypeCount = op_one;
    row_blend_op.KernelDestroy = destroy;
    row_blend_op.GetInputCharacteristic = op_input_kind;
    row_blend_op.GetOutputCharacteristic = op_required;
    row_blend_op.GetInputMemoryType = op_default_memory;
    row_blend_op.GetVariadicInputMinArity = op_int_one;
    row_blend_op.GetVariadicInputHomogeneity = op_int_one;
    row_blend_op.GetVariadicOutputMinArity = op_int_one;
    row_blend_op.GetVariadicOutputHomogeneity = op_int_one;
    row_blend_op.CreateKernelV2 = create;
    row_blend_op.KernelComputeV2 = compute;
    OrtStatus *s = APIX(API_CreateCustomOpDomain, CreateCustomOpDomainFn)("ai.blvnet", &domain);
    if (!s) s = APIX(API_CustomOpDomain_Add, CustomOpDomainAddFn)(domain, &row_blend_op);
    if (s) {
      domain = NULL;
      return s;
    }
  }
  return APIX(API_AddCustomOpDomain, AddCustomOpDomainFn)(options, domain);
}
