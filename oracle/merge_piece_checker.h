// MergePieceChecker: the log merge's pieces in flight never share a block (scoutfs-design §2.3,
// "no two in-flight requests cover overlapping ranges or COW the same block"). The server tells
// it (through its observer) when it hands a piece out, naming the fs tree block the piece copies,
// and when a piece stops counting: spliced, given back, or abandoned by a client that went away
// (whose result is never used).
//
// Contract:
// - piece_out() returns "" or what is wrong: the block is already another live piece's, or a
//   whole-tree piece and any other piece are live together (the whole tree contains every block).
// - piece_gone() of an unknown id is ignored (a server restart forgets what it handed out; the
//   records it reloads are reported again by piece_out only when handed out again).
// - reset(): a new server starts; its pieces are reported afresh.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace oracle {

class MergePieceChecker {
 public:
  std::string piece_out(uint64_t id, uint64_t block, bool whole_tree);
  void piece_gone(uint64_t id);
  void reset() { live_.clear(); }
  size_t live() const { return live_.size(); }

 private:
  struct Piece {
    uint64_t block = 0;
    bool whole_tree = false;
  };
  std::map<uint64_t, Piece> live_;  // by id
};

}  // namespace oracle
