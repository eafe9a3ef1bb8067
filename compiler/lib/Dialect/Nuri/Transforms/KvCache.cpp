//===- KvCache.cpp - A decoder's past/present pairs as an in-place cache --===//
//
// Exporters hand a decoder its KV cache as inputs (`past`) and get it back,
// grown by the new tokens, as outputs (`present = concat(past, new)`): the
// host moves the whole cache in and out on every step. A generation program
// keeps the cache in a state buffer instead and writes only the new rows at
// run-time positions; attention reads the rows in place. The rewrite relies
// on attention being invariant to the order of its keys (positions enter
// through the embeddings or rotary, before the cache), so a sequence's rows
// may sit at any cache positions as long as the mask hides the unused ones.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

#include <memory>
#include <optional>

namespace nuri {
#define GEN_PASS_DEF_NURIKVCACHE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

/// One cache: `concat(past, update)` along the sequence axis, where `past`
/// is a rank-4 argument (optimum's decoder_with_past) or one half of a
/// stacked `[2, batch, heads, past, dim]` argument (the older `past_N`
/// layout and ORT's fused Attention).
struct CachePair {
  BlockArgument source;
  int64_t part = -1; ///< -1: the whole argument; 0 keys, 1 values
  ConcatOp concat;
  Value update;
  std::string name; ///< the state's: the past input's, ".key"/".value" added
  BlockArgument cache;
  CacheWriteOp write;
};

/// A stacked `present = concat(reshape(keys), reshape(values), axis 0)`.
struct StackedPresent {
  ConcatOp concat;
  CachePair *keys, *values;
};

struct KvCachePass : public nuri::impl::NuriKvCacheBase<KvCachePass> {
  using NuriKvCacheBase::NuriKvCacheBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main || !llvm::hasSingleElement(main.getBody())) {
      module.emitError("nuri-kv-cache expects a single-block function @main");
      return signalPassFailure();
    }
    if (failed(rewrite(main))) {
      signalPassFailure();
    }
  }

  static std::string nameOf(DictionaryAttr attrs, const std::string &other) {
    auto name = attrs ? attrs.getAs<StringAttr>(onnx_attrs::kName) : nullptr;
    return name ? name.str() : other;
  }
  std::string argName(func::FuncOp main, unsigned index) {
    return nameOf(main.getArgAttrDict(index), "input_" + std::to_string(index));
  }

  static bool isStackedPast(Value v, Block &body) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != &body) {
      return false;
    }
    auto type = cast<RankedTensorType>(arg.getType());
    return type.getRank() == 5 && type.getDimSize(0) == 2;
  }

  /// Which half of a stacked `[2, batch, heads, past, dim]` argument `v`
  /// is, as exporters read it: `reshape(slice(past, [k:k+1]))` (ORT's fused
  /// Attention), `reshape(split(past, axis 0)#k)` (torch 1.9's
  /// Split/Squeeze) or `gather(past, k, axis 0)` (torch 1.6's `past[k]`).
  static std::optional<std::pair<BlockArgument, int64_t>>
  stackedHalfOf(Value v, Block &body) {
    auto half =
        [&](Value arg,
            int64_t k) -> std::optional<std::pair<BlockArgument, int64_t>> {
      if (!isStackedPast(arg, body) || k < 0 || k > 1) {
        return std::nullopt;
      }
      return std::make_pair(cast<BlockArgument>(arg), k);
    };
    if (auto gather = v.getDefiningOp<GatherOp>()) {
      auto index = gather.getIndices().getDefiningOp<ConstantOp>();
      auto values =
          index ? dyn_cast<DenseIntElementsAttr>(index.getValue()) : nullptr;
      if (gather.getAxis() != 0 || !values || values.getNumElements() != 1 ||
          cast<RankedTensorType>(values.getType()).getRank() != 0) {
        return std::nullopt;
      }
      int64_t k = (*values.getValues<APInt>().begin()).getSExtValue();
      return half(gather.getInput(), k < 0 ? k + 2 : k);
    }
    auto reshape = v.getDefiningOp<ReshapeOp>();
    if (!reshape) {
      return std::nullopt;
    }
    Value source = reshape.getInput();
    if (auto split = source.getDefiningOp<SplitOp>()) {
      if (split.getAxis() != 0 || split.getSizes().size() != 2 ||
          split.getSizes()[0] != 1 || split.getSizes()[1] != 1) {
        return std::nullopt;
      }
      return half(split.getInput(), cast<OpResult>(source).getResultNumber());
    }
    auto slice = source.getDefiningOp<SliceOp>();
    if (!slice || !isStackedPast(slice.getInput(), body)) {
      return std::nullopt;
    }
    auto type = cast<RankedTensorType>(slice.getInput().getType());
    ArrayRef<int64_t> starts = slice.getStarts(), limits = slice.getLimits();
    if (limits[0] != starts[0] + 1 ||
        llvm::any_of(slice.getSteps(), [](int64_t s) { return s != 1; })) {
      return std::nullopt;
    }
    for (int64_t d = 1; d < 5; ++d) {
      if (starts[d] != 0 || limits[d] != type.getDimSize(d)) {
        return std::nullopt;
      }
    }
    return half(slice.getInput(), starts[0]);
  }

  /// The past argument `v` reads, if it is one (see CachePair).
  static std::optional<std::pair<BlockArgument, int64_t>> pastOf(Value v,
                                                                 Block &body) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() == &body &&
          cast<RankedTensorType>(arg.getType()).getRank() == 4) {
        return std::make_pair(arg, int64_t(-1));
      }
      return std::nullopt;
    }
    return stackedHalfOf(v, body);
  }

  /// torch 1.6's GPT-2 keeps keys transposed, `[batch, heads, dim, seq]`,
  /// so its cache concatenates along the last axis and transposes back for
  /// the present: `transpose(concat(transpose(past), new^T, axis 3))`. That
  /// is `concat(past, new, axis 2)`, the form the rewrite knows.
  static void untransposeKeyConcats(Block &body) {
    auto isSwapLast = [](TransposeOp t) {
      return t.getPermutation() == ArrayRef<int64_t>{0, 1, 3, 2};
    };
    SmallVector<TransposeOp> outer;
    for (TransposeOp t : body.getOps<TransposeOp>()) {
      auto concat = t.getInput().getDefiningOp<ConcatOp>();
      auto inner = concat && concat.getInputs().size() == 2
                       ? concat.getInputs()[0].getDefiningOp<TransposeOp>()
                       : TransposeOp();
      if (inner && isSwapLast(t) && isSwapLast(inner) &&
          concat.getAxis() == 3 &&
          cast<RankedTensorType>(concat.getType()).getRank() == 4 &&
          pastOf(inner.getInput(), body)) {
        outer.push_back(t);
      }
    }
    for (TransposeOp t : outer) {
      auto concat = t.getInput().getDefiningOp<ConcatOp>();
      auto inner = concat.getInputs()[0].getDefiningOp<TransposeOp>();
      Value update = concat.getInputs()[1];
      auto updateType = cast<RankedTensorType>(update.getType());
      OpBuilder b(t);
      Value keys = b.create<TransposeOp>(
          t.getLoc(),
          RankedTensorType::get(
              {updateType.getDimSize(0), updateType.getDimSize(1),
               updateType.getDimSize(3), updateType.getDimSize(2)},
              updateType.getElementType()),
          update, ArrayRef<int64_t>{0, 1, 3, 2});
      Value merged = b.create<ConcatOp>(t.getLoc(), t.getType(),
                                        ValueRange{inner.getInput(), keys},
                                        b.getI64IntegerAttr(2));
      t.getResult().replaceAllUsesWith(merged);
      t.erase();
      if (concat->use_empty()) {
        concat.erase();
      }
      if (inner->use_empty()) {
        inner.erase();
      }
    }
  }

  LogicalResult rewrite(func::FuncOp main) {
    Block &body = main.getBody().front();
    Operation *ret = body.getTerminator();
    MLIRContext *ctx = main.getContext();

    untransposeKeyConcats(body);
    std::vector<std::unique_ptr<CachePair>> owned;
    for (ConcatOp concat : body.getOps<ConcatOp>()) {
      if (concat.getInputs().size() != 2 || concat.getAxis() != 2 ||
          cast<RankedTensorType>(concat.getType()).getRank() != 4) {
        continue;
      }
      auto past = pastOf(concat.getInputs()[0], body);
      if (!past) {
        continue;
      }
      auto pair = std::make_unique<CachePair>();
      pair->source = past->first;
      pair->part = past->second;
      pair->concat = concat;
      pair->update = concat.getInputs()[1];
      pair->name = argName(main, past->first.getArgNumber()) +
                   (past->second < 0    ? ""
                    : past->second == 0 ? ".key"
                                        : ".value");
      owned.push_back(std::move(pair));
    }
    if (owned.empty()) {
      return main.emitError(
          "--generate needs a decoder exported with its KV cache: inputs "
          "such as past_key_values.N.key/value whose outputs "
          "present.N.key/value concatenate them with the new keys and "
          "values along the sequence axis (optimum's decoder_with_past "
          "layout); this model has no such pair");
    }
    auto pairOf = [&](Value v) -> CachePair * {
      for (auto &p : owned) {
        if (v == p->concat.getResult()) {
          return p.get();
        }
      }
      return nullptr;
    };
    // Stacked presents: each half through a reshape to [1, B, H, S, D].
    auto halfOf = [&](Value v) -> CachePair * {
      auto reshape = v.getDefiningOp<ReshapeOp>();
      return reshape && reshape->hasOneUse() ? pairOf(reshape.getInput())
                                             : nullptr;
    };
    std::vector<StackedPresent> stacked;
    for (Value v : ret->getOperands()) {
      auto concat = v.getDefiningOp<ConcatOp>();
      if (!concat || concat.getAxis() != 0 || concat.getInputs().size() != 2) {
        continue;
      }
      CachePair *k = halfOf(concat.getInputs()[0]);
      CachePair *val = halfOf(concat.getInputs()[1]);
      if (k && val && k->source == val->source && k->part == 0 &&
          val->part == 1) {
        stacked.push_back({concat, k, val});
      }
    }
    auto inStacked = [&](Operation *op) {
      return llvm::any_of(stacked, [&](StackedPresent &s) {
        return s.concat.getInputs()[0].getDefiningOp() == op ||
               s.concat.getInputs()[1].getDefiningOp() == op;
      });
    };

    auto updateType = cast<RankedTensorType>(owned[0]->update.getType());
    int64_t batch = updateType.getDimSize(0), tokens = updateType.getDimSize(2);
    int64_t context =
        cast<RankedTensorType>(owned[0]->concat.getType()).getDimSize(2);
    int64_t pastLength = context - tokens;
    for (auto &p : owned) {
      auto u = cast<RankedTensorType>(p->update.getType());
      int64_t c = cast<RankedTensorType>(p->concat.getType()).getDimSize(2);
      if (u.getDimSize(0) != batch || u.getDimSize(2) != tokens ||
          c != context) {
        return p->concat.emitError("cache '")
               << p->name << "' has batch " << u.getDimSize(0) << ", "
               << u.getDimSize(2) << " new tokens and past "
               << c - u.getDimSize(2) << "; '" << owned[0]->name << "' has "
               << batch << ", " << tokens << " and " << pastLength;
      }
    }
    int64_t length = maxSeq > 0 ? int64_t(maxSeq) : context;
    if (length < context) {
      return main.emitError("--max-seq ")
             << length << " is shorter than this program's context " << context
             << " (past " << pastLength << " + " << tokens << " new tokens)";
    }
    if (slots < batch) {
      return main.emitError("cache slots ")
             << int64_t(slots) << " are fewer than the program's batch "
             << batch;
    }
    // Every reader of a cache must be attention that we can point at the
    // cache (or the present it returns); anything else would need the
    // concatenated tensor.
    for (auto &p : owned) {
      for (OpOperand &use : p->concat->getUses()) {
        Operation *user = use.getOwner();
        auto attention = dyn_cast<AttentionOp>(user);
        bool asKv = attention && (use.getOperandNumber() == 1 ||
                                  use.getOperandNumber() == 2);
        if (user != ret && !asKv && !inStacked(user)) {
          return user->emitError("reads the KV cache '")
                 << p->name << "' as " << user->getName()
                 << "; --generate supports caches that only attention reads "
                    "(grouped-query repetition must be fused into "
                    "nuri.attention)";
        }
      }
    }

    // Slots and positions, then a cache argument per stacked half.
    auto namedAttrs = [&](const std::string &name, const std::string &state) {
      SmallVector<NamedAttribute> attrs = {NamedAttribute(
          StringAttr::get(ctx, onnx_attrs::kName), StringAttr::get(ctx, name))};
      if (!state.empty()) {
        attrs.push_back(NamedAttribute(StringAttr::get(ctx, kStateAttrName),
                                       StringAttr::get(ctx, state)));
      }
      return DictionaryAttr::get(ctx, attrs);
    };
    auto indexType = RankedTensorType::get({batch}, IntegerType::get(ctx, 64));
    unsigned slotsIndex = main.getNumArguments();
    main.insertArgument(slotsIndex, indexType, namedAttrs("kv_slots", ""),
                        main.getLoc());
    main.insertArgument(slotsIndex + 1, indexType,
                        namedAttrs("kv_positions", ""), main.getLoc());
    Value slotValues = body.getArgument(slotsIndex);
    Value positions = body.getArgument(slotsIndex + 1);
    OpBuilder b(ctx);
    for (auto &p : owned) {
      auto view = cast<RankedTensorType>(p->concat.getType());
      auto cacheType = RankedTensorType::get(
          {int64_t(slots), view.getDimSize(1), length, view.getDimSize(3)},
          view.getElementType());
      if (p->part < 0) {
        p->cache = p->source;
        p->cache.setType(cacheType);
        main.setArgAttr(p->cache.getArgNumber(), kStateAttrName,
                        b.getStringAttr(p->name));
      } else {
        unsigned at = main.getNumArguments();
        main.insertArgument(at, cacheType, namedAttrs(p->name, p->name),
                            main.getLoc());
        p->cache = body.getArgument(at);
      }
      b.setInsertionPoint(p->concat);
      p->write = b.create<CacheWriteOp>(p->concat.getLoc(), p->cache, p->update,
                                        slotValues, positions);
    }

    SmallVector<AttentionOp> attentions;
    body.walk([&](AttentionOp op) {
      if (pairOf(op.getKey()) || pairOf(op.getValue())) {
        attentions.push_back(op);
      }
    });
    for (AttentionOp op : attentions) {
      CachePair *key = pairOf(op.getKey()), *value = pairOf(op.getValue());
      if (!key || !value) {
        return op.emitError("reads ")
               << (key ? "its keys" : "its values")
               << " from the KV cache but not its " << (key ? "values" : "keys")
               << "; --generate needs both from past/present pairs";
      }
      if (pastLength == 0) {
        // A prefill from an empty cache: the new rows are all there is.
        op.getKeyMutable().assign(key->update);
        op.getValueMutable().assign(value->update);
        continue;
      }
      b.setInsertionPoint(op);
      // A boolean mask (Megatron's) becomes the additive one the NPU's
      // cache attention takes, (float(mask) - 1) * 1e30: 0 where a position
      // is kept, -1e30 (finite, so a row hidden entirely makes no NaN)
      // where it is not. Otherwise the attention, and with it the whole
      // cache, would stay on the CPU of a chip's program.
      Value mask = op.getMask();
      auto maskType =
          mask ? dyn_cast<RankedTensorType>(mask.getType()) : nullptr;
      if (maskType && maskType.getElementType().isInteger(1)) {
        Location loc = op.getLoc();
        auto floatType = RankedTensorType::get(
            maskType.getShape(),
            cast<RankedTensorType>(op.getQuery().getType()).getElementType());
        auto scalar = RankedTensorType::get({}, floatType.getElementType());
        Value f = b.create<CastOp>(loc, floatType, mask);
        f = b.create<SubOp>(loc, floatType, f,
                            createSplat(b, loc, scalar, 1.0));
        mask = b.create<MulOp>(loc, floatType, f,
                               createSplat(b, loc, scalar, 1e30));
      }
      auto cached = b.create<CacheAttentionOp>(
          op.getLoc(), op.getQuery(), key->write.getResult(),
          value->write.getResult(), slotValues, mask,
          b.getI64IntegerAttr(context), op.getScaleAttr(), op.getCausalAttr());
      op.getResult().replaceAllUsesWith(cached.getResult());
      op.erase();
    }

    // Results: a present becomes the cache after the step; a stacked one
    // becomes its keys' cache, and its values' cache is appended.
    for (OpOperand &use : ret->getOpOperands()) {
      unsigned i = use.getOperandNumber();
      if (CachePair *p = pairOf(use.get())) {
        use.set(p->write.getResult());
        main.setResultAttr(i, kStateAttrName, b.getStringAttr(p->name));
      }
    }
    for (StackedPresent &s : stacked) {
      for (OpOperand &use : ret->getOpOperands()) {
        if (use.get() != s.concat.getResult()) {
          continue;
        }
        unsigned i = use.getOperandNumber();
        std::string present =
            nameOf(main.getResultAttrDict(i), "output_" + std::to_string(i));
        use.set(s.keys->write.getResult());
        main.setResultAttrs(i, namedAttrs(present + ".key", s.keys->name));
        unsigned at = main.getNumResults();
        main.insertResult(at, s.values->write.getType(),
                          namedAttrs(present + ".value", s.values->name));
        ret->insertOperands(ret->getNumOperands(), s.values->write.getResult());
        break;
      }
    }

    // What read the old pasts and built the old presents is dead now.
    for (StackedPresent &s : stacked) {
      SmallVector<Operation *> halves = {
          s.concat.getInputs()[0].getDefiningOp(),
          s.concat.getInputs()[1].getDefiningOp()};
      s.concat.erase();
      for (Operation *h : halves) {
        h->erase();
      }
    }
    llvm::SmallSetVector<BlockArgument, 4> stackedArgs;
    for (auto &p : owned) {
      Value past = p->concat.getInputs()[0];
      p->concat.erase();
      if (p->part >= 0) {
        // The reads of the stacked half (reshape of a slice or split, or a
        // gather), once nothing else uses them.
        for (Operation *op = past.getDefiningOp(); op && op->use_empty();) {
          Operation *next = op->getOperand(0).getDefiningOp();
          op->erase();
          op = next;
        }
        stackedArgs.insert(p->source);
      }
    }
    SmallVector<unsigned> dead;
    for (BlockArgument arg : stackedArgs) {
      if (arg.use_empty()) {
        dead.push_back(arg.getArgNumber());
      }
    }
    llvm::sort(dead, std::greater<unsigned>());
    for (unsigned i : dead) {
      main.eraseArgument(i);
    }
    SmallVector<Type> results(ret->getOperandTypes());
    main.setType(FunctionType::get(ctx, body.getArgumentTypes(), results));
    return success();
  }
};

} // namespace
