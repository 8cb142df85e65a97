#include "oracle/merge_piece_checker.h"

#include <gtest/gtest.h>

namespace oracle {
namespace {

TEST(MergePieceChecker, PiecesOnDifferentBlocksAreFine) {
  MergePieceChecker c;
  EXPECT_EQ(c.piece_out(1, 100, false), "");
  EXPECT_EQ(c.piece_out(2, 101, false), "");
  EXPECT_EQ(c.piece_out(1, 100, false), "") << "the same piece again (a resend) is no conflict";
  EXPECT_EQ(c.live(), 2u);
}

TEST(MergePieceChecker, TwoLivePiecesOnOneBlockAreAViolation) {
  MergePieceChecker c;
  EXPECT_EQ(c.piece_out(1, 100, false), "");
  const std::string e = c.piece_out(2, 100, false);
  EXPECT_NE(e.find("both copy fs tree block 100"), std::string::npos) << e;
}

TEST(MergePieceChecker, AWholeTreePieceMustBeAlone) {
  MergePieceChecker c;
  EXPECT_EQ(c.piece_out(1, 100, true), "");
  EXPECT_NE(c.piece_out(2, 7, false), "");
  MergePieceChecker d;
  EXPECT_EQ(d.piece_out(1, 7, false), "");
  EXPECT_NE(d.piece_out(2, 100, true), "");
}

TEST(MergePieceChecker, AGonePieceFreesItsBlockAndAStartForgetsAll) {
  MergePieceChecker c;
  EXPECT_EQ(c.piece_out(1, 100, false), "");
  c.piece_gone(1);
  EXPECT_EQ(c.piece_out(2, 100, false), "") << "spliced or abandoned: the block may be handed out again";
  c.piece_gone(42);  // unknown: ignored
  c.reset();
  EXPECT_EQ(c.live(), 0u);
  EXPECT_EQ(c.piece_out(3, 100, false), "");
}

}  // namespace
}  // namespace oracle
