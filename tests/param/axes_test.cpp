// param/axes.h: how a shape is written wherever one is printed (coord runs, `moet transfer`,
// sweep report curves).
#include <gtest/gtest.h>

#include "param/axes.h"

namespace moet::param {
namespace {

TEST(Axes, ShapeTextNamesEveryAxisOrThoseGiven) {
  const AxisValues shape{{64, 128, 8, 2, 3}};
  EXPECT_EQ(shape_text(shape), "N=64 Ne=128 M=8 K=2 L=3");
  EXPECT_EQ(shape_text(shape, {Axis::M, Axis::K}), "M=8 K=2");
  EXPECT_EQ(shape_text(shape, {}), "");
}

}  // namespace
}  // namespace moet::param
