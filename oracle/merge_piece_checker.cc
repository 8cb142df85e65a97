#include "oracle/merge_piece_checker.h"

namespace oracle {

std::string MergePieceChecker::piece_out(uint64_t id, uint64_t block, bool whole_tree) {
  for (const auto& [other, p] : live_) {
    if (other == id) continue;  // the same piece handed out again (a resent request)
    if (p.block == block || p.whole_tree || whole_tree) {
      std::string msg = "merge pieces " + std::to_string(other) + " and " + std::to_string(id) + " are out together";
      msg += (p.block == block) ? " and both copy fs tree block " + std::to_string(block)
                                : ", and one of them is the whole fs tree";
      live_[id] = Piece{block, whole_tree};
      return msg;
    }
  }
  live_[id] = Piece{block, whole_tree};
  return "";
}

void MergePieceChecker::piece_gone(uint64_t id) { live_.erase(id); }

}  // namespace oracle
