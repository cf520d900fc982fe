// Bit-for-bit equality of two layers' metrics, for the tests that prove a
// streamed or split comparison moves no rounding.
#pragma once

#include <gtest/gtest.h>

#include <cstring>

#include "sigdump/metrics.h"

namespace sigdump::testing {

inline void expect_same_metrics(const layer_metrics& a, const layer_metrics& b) {
  EXPECT_EQ(std::memcmp(&a.mse, &b.mse, sizeof a.mse), 0) << a.mse << " vs " << b.mse;
  EXPECT_EQ(std::memcmp(&a.cos, &b.cos, sizeof a.cos), 0) << a.cos << " vs " << b.cos;
  EXPECT_EQ(std::memcmp(&a.rmse, &b.rmse, sizeof a.rmse), 0) << a.rmse << " vs " << b.rmse;
  EXPECT_EQ(a.max_abs, b.max_abs);
  EXPECT_EQ(a.sqnr_db, b.sqnr_db);
  EXPECT_EQ(a.rel_l2, b.rel_l2);
  EXPECT_EQ(a.n, b.n);
}

}  // namespace sigdump::testing
