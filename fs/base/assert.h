// FS_ASSERT: an assertion that stays on in every build type.
//
// The filesystem's assertions double as oracles during simulation: a broken pre- or
// postcondition must end the run (the process aborts, and a campaign records the seed) in
// release builds too, where <cassert> would compile it away.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FS_ASSERT(cond)                                                                   \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: FS_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);   \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
