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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace nuri {
#define GEN_PASS_DEF_NURIKVCACHE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

constexpr llvm::StringLiteral kStateAttr = "nuri.state";

/// One past/present pair: `present = concat(past, update)`.
struct CachePair {
  BlockArgument past;
  ConcatOp concat;
  Value update;
  std::string name;   ///< the past input's name, kept as the state's
  CacheWriteOp write; ///< the cache after the step
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

  std::string argName(func::FuncOp main, unsigned index) {
    auto name = main.getArgAttrOfType<StringAttr>(index, onnx_attrs::kName);
    return name ? name.str() : "input_" + std::to_string(index);
  }

  LogicalResult rewrite(func::FuncOp main) {
    Block &body = main.getBody().front();
    Operation *ret = body.getTerminator();
    MLIRContext *ctx = main.getContext();

    std::vector<CachePair> pairs;
    for (OpOperand &use : ret->getOpOperands()) {
      auto concat = use.get().getDefiningOp<ConcatOp>();
      if (!concat || concat.getInputs().size() != 2) {
        continue;
      }
      auto past = dyn_cast<BlockArgument>(concat.getInputs()[0]);
      if (!past || past.getOwner() != &body) {
        continue;
      }
      auto type = cast<RankedTensorType>(past.getType());
      if (type.getRank() != 4 || concat.getAxis() != 2) {
        return concat.emitError("past input '")
               << argName(main, past.getArgNumber())
               << "' is concatenated along axis " << concat.getAxis()
               << " of a rank-" << type.getRank()
               << " tensor; --generate expects [batch, heads, seq, dim] "
                  "caches grown along axis 2";
      }
      if (llvm::any_of(
              pairs, [&](const CachePair &p) { return p.concat == concat; })) {
        continue; // returned twice
      }
      pairs.push_back({past, concat, concat.getInputs()[1],
                       argName(main, past.getArgNumber()), nullptr});
    }
    if (pairs.empty()) {
      return main.emitError(
          "--generate needs a decoder exported with its KV cache: inputs "
          "such as past_key_values.N.key/value whose outputs "
          "present.N.key/value concatenate them with the new keys and "
          "values along the sequence axis (optimum's decoder_with_past "
          "layout); this model has no such pair");
    }

    auto updateType = cast<RankedTensorType>(pairs[0].update.getType());
    int64_t batch = updateType.getDimSize(0), tokens = updateType.getDimSize(2);
    int64_t pastLength =
        cast<RankedTensorType>(pairs[0].past.getType()).getDimSize(2);
    int64_t context = pastLength + tokens;
    for (CachePair &p : pairs) {
      auto u = cast<RankedTensorType>(p.update.getType());
      auto t = cast<RankedTensorType>(p.past.getType());
      if (u.getDimSize(0) != batch || u.getDimSize(2) != tokens ||
          t.getDimSize(2) != pastLength) {
        return p.concat.emitError("cache '")
               << p.name << "' has batch " << u.getDimSize(0) << ", "
               << u.getDimSize(2) << " new tokens and past " << t.getDimSize(2)
               << "; '" << pairs[0].name << "' has " << batch << ", " << tokens
               << " and " << pastLength;
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

    // Every reader of a present must be attention that we can point at the
    // cache; anything else would need the concatenated tensor.
    for (CachePair &p : pairs) {
      for (OpOperand &use : p.concat->getUses()) {
        Operation *user = use.getOwner();
        auto attention = dyn_cast<AttentionOp>(user);
        bool asKv = attention && (use.getOperandNumber() == 1 ||
                                  use.getOperandNumber() == 2);
        if (user != ret && !asKv) {
          return user->emitError("reads the KV cache '")
                 << p.name << "' as " << user->getName()
                 << "; --generate supports caches that only attention reads "
                    "(grouped-query repetition must be fused into "
                    "nuri.attention)";
        }
      }
    }

    // Slots and positions: one per batch row, appended to the signature.
    auto indexType = RankedTensorType::get({batch}, IntegerType::get(ctx, 64));
    unsigned slotsIndex = main.getNumArguments();
    main.insertArgument(
        slotsIndex, indexType,
        DictionaryAttr::get(
            ctx, {NamedAttribute(StringAttr::get(ctx, onnx_attrs::kName),
                                 StringAttr::get(ctx, "kv_slots"))}),
        main.getLoc());
    main.insertArgument(
        slotsIndex + 1, indexType,
        DictionaryAttr::get(
            ctx, {NamedAttribute(StringAttr::get(ctx, onnx_attrs::kName),
                                 StringAttr::get(ctx, "kv_positions"))}),
        main.getLoc());
    Value slotValues = body.getArgument(slotsIndex);
    Value positions = body.getArgument(slotsIndex + 1);

    OpBuilder b(ctx);
    for (CachePair &p : pairs) {
      auto past = cast<RankedTensorType>(p.past.getType());
      p.past.setType(RankedTensorType::get(
          {int64_t(slots), past.getDimSize(1), length, past.getDimSize(3)},
          past.getElementType()));
      main.setArgAttr(p.past.getArgNumber(), kStateAttr,
                      b.getStringAttr(p.name));
      b.setInsertionPoint(p.concat);
      p.write = b.create<CacheWriteOp>(p.concat.getLoc(), p.past, p.update,
                                       slotValues, positions);
    }
    auto pairOf = [&](Value v) -> CachePair * {
      for (CachePair &p : pairs) {
        if (v == p.concat.getResult()) {
          return &p;
        }
      }
      return nullptr;
    };

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
      auto cached = b.create<CacheAttentionOp>(
          op.getLoc(), op.getQuery(), key->write.getResult(),
          value->write.getResult(), slotValues, op.getMask(),
          b.getI64IntegerAttr(context), op.getScaleAttr(), op.getCausalAttr());
      op.getResult().replaceAllUsesWith(cached.getResult());
      op.erase();
    }

    for (OpOperand &use : ret->getOpOperands()) {
      if (CachePair *p = pairOf(use.get())) {
        use.set(p->write.getResult());
        main.setResultAttr(use.getOperandNumber(), kStateAttr,
                           b.getStringAttr(p->name));
      }
    }
    for (CachePair &p : pairs) {
      p.concat.erase();
    }
    SmallVector<Type> results(ret->getOperandTypes());
    main.setType(FunctionType::get(ctx, body.getArgumentTypes(), results));
    return success();
  }
};

} // namespace
