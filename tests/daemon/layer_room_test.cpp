// A run's layers outgrow their vector in memory a worker made and touched
// beforehand: the loop thread moves them, and takes no page fault for it.
#include "core/layer_room.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "daemon_support.h"

namespace sigdump::testing {
namespace {

long minor_faults_of_this_thread() {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

layer_result layer_numbered(std::uint32_t i) {
  layer_result l;
  l.index = i;
  l.name = "layer" + std::to_string(i) + "/conv";
  return l;
}

TEST(LayerRoom, TheLoopMovesLayersIntoRoomAWorkerTouched) {
  auto loop = daemon::make_event_loop(daemon::loop_kind::epoll);
  ASSERT_TRUE(loop);
  daemon::worker_pool pool(1);
  daemon::layer_room room;
  std::vector<layer_result> layers;
  // Half full (1,024 of 2,048) asks for the room, which comes back through
  // the loop.
  while (layers.size() < 2047) {
    room.before_insert(layers, pool, **loop);
    layers.push_back(layer_numbered(static_cast<std::uint32_t>(layers.size())));
  }
  ASSERT_EQ(layers.capacity(), 2048u);
  ASSERT_TRUE(run_loop_until(
      **loop, [&] { return room.ready(); }, std::chrono::milliseconds(1)));
  room.before_insert(layers, pool, **loop);
  layers.push_back(layer_numbered(2047));

  // The insert that outgrows the vector: without the room, 2,049 layers
  // moved into fresh memory, a fault for each page of it. The same insert
  // into a vector grown as usual is the baseline (a sanitizer's shadow
  // memory faults in both).
  std::vector<layer_result> plain;
  plain.reserve(2048);
  while (plain.size() < 2048) {
    plain.push_back(layer_numbered(static_cast<std::uint32_t>(plain.size())));
  }
  const long plain_before = minor_faults_of_this_thread();
  plain.push_back(layer_numbered(2048));
  const long plain_faults = minor_faults_of_this_thread() - plain_before;
  const long pages_moved = static_cast<long>(2049 * sizeof(layer_result) / 4096);

  const long before = minor_faults_of_this_thread();
  room.before_insert(layers, pool, **loop);
  layers.push_back(layer_numbered(2048));
  const long faults = minor_faults_of_this_thread() - before;
  EXPECT_EQ(layers.capacity(), 4096u);
  EXPECT_LT(faults, plain_faults - pages_moved / 2)
      << faults << " faults with the room, " << plain_faults << " without, for " << pages_moved
      << " pages of layers";
  ASSERT_EQ(layers.size(), 2049u);
  for (std::uint32_t i = 0; i < layers.size(); ++i) {
    ASSERT_EQ(layers[i].index, i);
    ASSERT_EQ(layers[i].name, "layer" + std::to_string(i) + "/conv");
  }
}

}  // namespace
}  // namespace sigdump::testing
