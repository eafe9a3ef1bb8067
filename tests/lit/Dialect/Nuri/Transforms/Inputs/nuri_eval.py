"""Evaluates an imported model in the nuri dialect with numpy and compares its
outputs with ONNX Runtime's reference outputs.

    nuri_eval.py MODEL_DIR MODULE.mlir [TOLERANCE]

MODEL_DIR holds inputs/<input>.npy and outputs/<output>.npy (the layout of
/work/shared/models); MODULE.mlir is `nuri-opt --mlir-print-op-generic`
output of `nuri import`. Prints the largest error of each output and exits 1
if any exceeds TOLERANCE (relative to the output's magnitude, default 1e-4).

This is a test oracle for the graph passes, not a runtime: it checks that
fusion keeps the model's meaning (mask polarity, grouped heads, key layout,
scales) on real exports. Needs numpy (Debian's python3-numpy).
"""
import math
import re
import sys

import numpy as np

def parse_type(t):
    t = t.strip()
    m = re.match(r'tensor<(.*)>', t)
    body = m.group(1)
    parts = body.split('x')
    elt = parts[-1]
    shape = [int(p) for p in parts[:-1]]
    return shape, elt

DT = {'f32': np.float32, 'f16': np.float16, 'f64': np.float64, 'i64': np.int64, 'i32': np.int32,
      'i1': np.bool_, 'i8': np.int8, 'ui8': np.uint8, 'bf16': np.float32}

def split_top(s, sep=','):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch in '<([{': depth += 1
        if ch in '>)]}': depth -= 1
        if ch == sep and depth == 0:
            out.append(cur); cur = ''
        else:
            cur += ch
    if cur.strip(): out.append(cur)
    return out

def parse_dense(lit, shape, elt, resources):
    m = re.match(r'dense_resource<([^>]*)>', lit)
    dt = DT[elt]
    if m:
        blob = resources[m.group(1)]
        raw = bytes.fromhex(blob[2:])[4:]
        if elt == 'i1':
            return np.frombuffer(raw, dtype=np.uint8).astype(bool).reshape(shape)
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    m = re.match(r'dense<(.*)>$', lit, re.S)
    inner = m.group(1).strip()
    if inner.startswith('"0x'):
        raw = bytes.fromhex(inner[3:-1])
        if elt == 'i1':
            # Booleans are packed eight to a byte, least significant first.
            a = np.unpackbits(np.frombuffer(raw, dtype=np.uint8),
                              bitorder='little').astype(bool)
            a = a[:max(1, int(np.prod(shape)))] if len(raw) > 1 else a[:1]
        else:
            a = np.frombuffer(raw, dtype=dt)
        if a.size == 1:
            return np.full(shape, a[0], dtype=dt)
        return a.reshape(shape).copy()
    inner = inner.replace('true', '1').replace('false', '0')
    inner = re.sub(r'0x[0-9A-Fa-f]+', lambda mm: repr(np.frombuffer(bytes.fromhex(mm.group(0)[2:])[::-1], dtype=dt)[0].item()) if elt in ('f32',) else mm.group(0), inner)
    inner = inner.replace('inf', 'float("inf")').replace('nan', 'float("nan")')
    val = eval(inner)
    a = np.array(val, dtype=np.float64 if elt.startswith('f') else np.int64)
    if a.ndim == 0 or a.size == 1 and list(a.shape) != shape:
        return np.full(shape, a.reshape(-1)[0]).astype(dt)
    return a.reshape(shape).astype(dt)

def attr_ints(attrs, key):
    m = re.search(key + r' = array<i64(?:: ([^>]*))?>', attrs)
    if not m: return None
    return [int(x) for x in m.group(1).split(',')] if m.group(1) else []

def attr_num(attrs, key):
    m = re.search(r'\b' + key + r' = ([-0-9.eE+a-fx]+|0x[0-9A-F]+)\s*:', attrs)
    if not m: return None
    v = m.group(1)
    if v.startswith('0x'):
        return float(np.frombuffer(bytes.fromhex(v[2:])[::-1], dtype=np.float32)[0])
    return float(v)

def has_unit(attrs, key):
    return re.search(r'(?:\{|, )' + key + r'(?:,|\})', attrs) is not None

def run(path, inputs):
    text = open(path).read()
    resources = dict(re.findall(r'^\s+([\w.\-:/]+): "(0x[0-9A-Fa-f]*)"', text, re.M))
    resources.update({k.strip('"'): v for k, v in re.findall(r'^\s+("[^"]+"): "(0x[0-9A-Fa-f]*)"', text, re.M)})
    env = {}
    body = text[text.index('^bb0(') :]
    args = re.findall(r'(%arg\d+): (tensor<[^>]*>)', body.split('\n')[0])
    for (name, t), val in zip(args, inputs):
        env[name] = val
    for line in body.split('\n')[1:]:
        line = line.strip()
        if line.startswith('"func.return"'):
            ops = re.match(r'"func.return"\((.*?)\)', line).group(1)
            return [env[o.strip()] for o in ops.split(',')]
        m = re.match(r'(%[\w#:]+) = "nuri\.(\w+)"\((.*?)\) (\{.*\} )?: \((.*)\) -> (.*)$', line)
        if not m:
            continue
        res, op, operands, attrs, intypes, outtypes = m.groups()
        attrs = attrs or ''
        ops = [env[o.strip()] for o in operands.split(',') if o.strip()]
        outs = split_top(outtypes.strip('()'))
        oshape, oelt = parse_type(outs[0])
        r = evaluate(op, ops, attrs, oshape, oelt, resources, len(outs))
        if res.find(':') > 0:
            base, n = res.split(':')
            for i in range(int(n)):
                env[f'{base}#{i}'] = r[i]
        else:
            env[res] = r
        if not isinstance(r, list):
            assert list(np.shape(r)) == oshape, (line, np.shape(r), oshape)

def erf(x):
    return np.vectorize(math.erf)(x.astype(np.float64)).astype(x.dtype)

def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)

def evaluate(op, a, attrs, oshape, oelt, resources, nres):
    dt = DT[oelt]
    f = lambda v: np.asarray(v).astype(dt)
    if op == 'constant':
        lit = re.search(r'value = (dense(?:_resource)?<.*>) : tensor', attrs).group(1)
        return parse_dense(lit, oshape, oelt, resources)
    binary = {'add': np.add, 'sub': np.subtract, 'mul': np.multiply, 'pow': np.power,
              'max': np.maximum, 'min': np.minimum, 'and': np.logical_and, 'or': np.logical_or}
    if op in binary: return f(binary[op](a[0], a[1]))
    if op == 'div':
        return f(a[0] / a[1]) if dt in (np.float32, np.float16, np.float64) else f(np.trunc(a[0] / a[1]))
    unary = {'neg': np.negative, 'exp': np.exp, 'log': np.log, 'sqrt': np.sqrt, 'tanh': np.tanh,
             'abs': np.abs, 'relu': lambda x: np.maximum(x, 0), 'reciprocal': lambda x: 1 / x,
             'rsqrt': lambda x: 1 / np.sqrt(x), 'sigmoid': lambda x: 1 / (1 + np.exp(-x)),
             'erf': erf, 'not': np.logical_not, 'sin': np.sin, 'cos': np.cos,
             'silu': lambda x: x / (1 + np.exp(-x)), 'floor': np.floor, 'ceil': np.ceil}
    if op in unary: return f(unary[op](a[0]))
    if op == 'gelu':
        x = a[0].astype(np.float64)
        if 'tanh' in attrs:
            return f(0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
        return f(0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))))
    if op == 'compare':
        p = re.search(r'predicate = #nuri<predicate (\w+)>', attrs).group(1)
        fn = {'eq': np.equal, 'ne': np.not_equal, 'lt': np.less, 'le': np.less_equal, 'gt': np.greater, 'ge': np.greater_equal}[p]
        return fn(a[0], a[1])
    if op == 'where': return f(np.where(a[0], a[1], a[2]))
    if op == 'cast':
        if oelt == 'i1': return a[0] != 0
        if dt in (np.int64, np.int32): return np.trunc(a[0]).astype(dt)
        return f(a[0])
    if op == 'reshape': return a[0].reshape(oshape)
    if op == 'broadcast_to': return np.broadcast_to(a[0], oshape).copy()
    if op == 'transpose': return np.transpose(a[0], attr_ints(attrs, 'permutation'))
    if op in ('reduce_mean', 'reduce_sum', 'reduce_max', 'reduce_min', 'reduce_prod'):
        axes = tuple(attr_ints(attrs, 'axes'))
        fn = {'reduce_mean': np.mean, 'reduce_sum': np.sum, 'reduce_max': np.max, 'reduce_min': np.min, 'reduce_prod': np.prod}[op]
        return f(fn(a[0], axis=axes, keepdims=has_unit(attrs, 'keep_dims')).reshape(oshape))
    if op == 'matmul':
        l, r = a
        if has_unit(attrs, 'transpose_lhs'): l = np.swapaxes(l, -1, -2)
        if has_unit(attrs, 'transpose_rhs'): r = np.swapaxes(r, -1, -2)
        return f(np.matmul(l, r))
    if op == 'linear':
        y = np.matmul(a[0], a[1])
        if len(a) > 2: y = y + a[2]
        return f(y)
    if op == 'softmax':
        ax = int(attr_num(attrs, 'axis'))
        s = softmax(a[0], ax)
        return f(np.log(s) if has_unit(attrs, 'log') else s)
    if op in ('layer_norm', 'rms_norm'):
        ax = int(attr_num(attrs, 'axis')); eps = attr_num(attrs, 'epsilon')
        x = a[0]; axes = tuple(range(ax, x.ndim))
        if op == 'layer_norm':
            d = x - x.mean(axis=axes, keepdims=True)
            y = d / np.sqrt((d * d).mean(axis=axes, keepdims=True) + eps) * a[1]
            if len(a) > 2: y = y + a[2]
        else:
            y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps) * a[1]
        return f(y)
    if op == 'rope':
        x, c, s = a; d = x.shape[-1] // 2
        rot = np.concatenate([-x[..., d:], x[..., :d]], axis=-1)
        return f(x * c + rot * s)
    if op == 'attention':
        q, k, v = a[:3]; mask = a[3] if len(a) > 3 else None
        scale = attr_num(attrs, 'scale'); rep = q.shape[1] // k.shape[1]
        k = np.repeat(k, rep, axis=1); v = np.repeat(v, rep, axis=1)
        s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
        if mask is not None:
            s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
        if has_unit(attrs, 'causal'):
            sq, skv = s.shape[-2:]
            i = np.arange(sq)[:, None]; j = np.arange(skv)[None, :]
            s = np.where(j <= i + skv - sq, s, -np.inf)
        return f(np.matmul(softmax(s, -1), v))
    if op == 'gather':
        ax = int(attr_num(attrs, 'axis'))
        return np.take(a[0], a[1], axis=ax)
    if op == 'slice':
        st, li, sp = attr_ints(attrs, 'starts'), attr_ints(attrs, 'limits'), attr_ints(attrs, 'steps')
        sl = tuple(slice(s0, (None if l0 == -1 else l0), p) for s0, l0, p in zip(st, li, sp))
        return a[0][sl]
    if op == 'concat':
        return np.concatenate(a, axis=int(attr_num(attrs, 'axis')))
    if op == 'split':
        ax = int(attr_num(attrs, 'axis')); sizes = attr_ints(attrs, 'sizes')
        return np.split(a[0], np.cumsum(sizes)[:-1], axis=ax)
    if op == 'conv':
        import itertools
        x, w = a[0].astype(np.float64), a[1].astype(np.float64)
        st, pd, dl = attr_ints(attrs, 'strides'), attr_ints(attrs, 'pads'), attr_ints(attrs, 'dilations')
        sp = len(st)
        x = np.pad(x, [(0, 0), (0, 0)] + [(pd[i], pd[i + sp]) for i in range(sp)])
        out = np.zeros(oshape)
        for idx in itertools.product(*[range(n) for n in oshape[2:]]):
            sl = tuple(slice(idx[i] * st[i], idx[i] * st[i] + (w.shape[2 + i] - 1) * dl[i] + 1, dl[i]) for i in range(sp))
            patch = x[(slice(None), slice(None)) + sl]
            out[(slice(None), slice(None)) + idx] = np.tensordot(patch, w, axes=(list(range(1, 2 + sp)), list(range(1, 2 + sp))))
        if len(a) > 2: out += a[2].reshape([1, -1] + [1] * sp)
        return f(out)
    raise NotImplementedError(op)

if __name__ == '__main__':
    model_dir, mlir = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    text = open(mlir).read()
    names = re.findall(r'nuri.name = "([^"]+)"', text)
    fm = re.search(r'function_type = \(([^)]*)\) ->', text)
    nin = len(split_top(fm.group(1)))
    inputs = [np.load(f'{model_dir}/inputs/{n}.npy') for n in names[:nin]]
    # Masks that add two float-lowest values overflow to -inf, as in ORT.
    np.seterr(over='ignore')
    outs = run(mlir, inputs)
    failed = False
    for n, o in zip(names[nin:], outs):
        ref = np.load(f'{model_dir}/outputs/{n}.npy')
        scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
        err = float(np.max(np.abs(o.astype(np.float64) - ref))) if ref.size else 0.0
        bad = not err <= tolerance * scale or o.shape != ref.shape
        failed |= bad
        print(f'{n}: max abs error {err:.3g} of {scale:.3g}' + (' FAIL' if bad else ''))
    sys.exit(1 if failed else 0)
