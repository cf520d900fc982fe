// Every protocol method against a real sigdumpd, over its socket.
#include <gtest/gtest.h>

#include "ipc_test_client.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/dump_file.h"
#include "sigdump/report/report_json.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

class IpcMethods : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<ipc_daemon>(dir_);
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->proc().stderr_text();
  }
  // Writes `n` layers (one suspect: 2) and waits until the daemon compared them.
  void write_layers(int n) {
    writer_ =
        std::make_unique<pair_writer>(daemon_->sample(), daemon_->bench(), n, std::vector<int>{2});
    writer_->write(n);
    raw_client c(daemon_->socket());
    ASSERT_TRUE(wait_until([&] {
      auto m = c.call("runs", R"({"pair":"p"})");
      return m.result.find("\"layers\":" + std::to_string(n)) != std::string::npos;
    })) << c.call("status").raw;
  }
  temp_dir dir_;
  std::unique_ptr<ipc_daemon> daemon_;
  std::unique_ptr<pair_writer> writer_;
};

TEST_F(IpcMethods, Hello) {
  raw_client c(daemon_->socket());
  auto m = c.call("hello", R"({"client":"test","protocol":99})");
  EXPECT_NE(m.result.find("\"server\":\"sigdumpd\""), std::string::npos) << m.raw;
  EXPECT_NE(m.result.find("\"protocol\":1"), std::string::npos);
  EXPECT_NE(m.result.find("\"clock\":\"c:"), std::string::npos);
  EXPECT_NE(m.result.find("\"subscribe\""), std::string::npos);
  EXPECT_EQ(c.call("hello", R"({"protocol":"one"})").error_code, "invalid_params");
}

TEST_F(IpcMethods, StatusRunsTensorsTensor) {
  write_layers(6);
  raw_client c(daemon_->socket());
  auto st = c.call("status");
  EXPECT_NE(st.result.find("\"pairs\":[{\"name\":\"p\""), std::string::npos) << st.raw;
  EXPECT_NE(st.result.find("\"layers\":6"), std::string::npos) << st.raw;
  EXPECT_NE(st.result.find(daemon_->sample()), std::string::npos);

  auto runs = c.call("runs");
  EXPECT_NE(runs.result.find("\"run\":\"r"), std::string::npos) << runs.raw;
  EXPECT_NE(runs.result.find("\"suspect\":1"), std::string::npos) << runs.raw;
  EXPECT_EQ(c.call("runs", R"({"pair":"nope"})").error_code, "not_found");
  EXPECT_EQ(c.call("runs", R"({"limit":0})").error_code, "invalid_params");

  auto ts = c.call("tensors", R"({"pair":"p","match":"layer_3"})");
  EXPECT_NE(ts.result.find("\"total\":1"), std::string::npos) << ts.raw;
  EXPECT_NE(ts.result.find(pair_writer::name(3)), std::string::npos);
  auto page = c.call("tensors", R"({"path":")" + daemon_->sample() + R"(","offset":2,"limit":2})");
  EXPECT_NE(page.result.find("\"total\":6"), std::string::npos) << page.raw;
  EXPECT_NE(page.result.find(pair_writer::name(2)), std::string::npos);
  EXPECT_EQ(page.result.find(pair_writer::name(4)), std::string::npos);
  EXPECT_EQ(c.call("tensors", R"({"kind":"sideways"})").error_code, "invalid_params");
  EXPECT_EQ(c.call("tensors", R"({"run":"r999"})").error_code, "not_found");

  auto t =
      c.call("tensor", R"({"pair":"p","name":")" + pair_writer::name(2) + R"(","values":[0,4]})");
  ASSERT_TRUE(t.error_code.empty()) << t.raw;
  simdjson::dom::parser p;
  simdjson::dom::element r = p.parse(t.result).value();
  EXPECT_EQ(r["stats"]["count"].get_uint64().value(), 128u);
  EXPECT_EQ(r["values"]["data"].get_array().value().size(), 4u);
  EXPECT_EQ(r["values"]["first"].get_int64().value(), 0);
  EXPECT_TRUE(r["metrics"].is_object());
  EXPECT_EQ(r["metrics"]["suspect"].get_bool().value(), true);
  EXPECT_EQ(std::string_view(r["locator"]["dtype"].get_string().value()), "f32");
  EXPECT_EQ(r["locator"]["bytes"].get_uint64().value(), 512u);
  const std::uint64_t offset = r["locator"]["offset"].get_uint64().value();
  // The locator is enough to read the values straight from the file.
  const std::string bytes = read_file(daemon_->sample());
  float first = 0;
  std::memcpy(&first, bytes.data() + offset, sizeof first);
  EXPECT_DOUBLE_EQ(static_cast<double>(first), r["values"]["data"].at(0).get_double().value());

  // The sanitized name finds the same record.
  auto san = c.call("tensor", R"({"pair":"p","name":"net_layer_2_conv"})");
  EXPECT_TRUE(san.error_code.empty()) << san.raw;
  auto missing = c.call("tensor", R"({"pair":"p","name":"net/layer_2/cnv"})");
  EXPECT_EQ(missing.error_code, "not_found");
  EXPECT_NE(missing.raw.find("net/layer_2/conv"), std::string::npos) << missing.raw;
  EXPECT_EQ(c.call("tensor", R"({"pair":"p"})").error_code, "invalid_params");
  EXPECT_EQ(
      c.call("tensor", R"({"pair":"p","name":"net/layer_1/conv","values":[0,70000]})").error_code,
      "invalid_params");
  EXPECT_EQ(c.call("tensor", R"({"pair":"p","name":"net/layer_1/conv","values":[5,1]})").error_code,
            "invalid_params");
  EXPECT_EQ(c.call("tensor", R"({"pair":"p","name":"net/layer_1/conv","occurrence":3})").error_code,
            "not_found");
}

TEST_F(IpcMethods, TensorChannelsOnRequest) {
  write_layers(4);
  raw_client c(daemon_->socket());
  const std::string bad = pair_writer::name(2);
  auto plain = c.call("tensor", R"({"pair":"p","name":")" + bad + "\"}");
  ASSERT_TRUE(plain.error_code.empty()) << plain.raw;
  simdjson::dom::parser p;
  EXPECT_TRUE(p.parse(plain.result).value()["channels"].is_null()) << plain.raw;
  EXPECT_EQ(c.call("tensor", R"({"pair":"p","name":")" + bad + R"(","channels":"yes"})").error_code,
            "invalid_params");

  auto t = c.call("tensor", R"({"pair":"p","name":")" + bad + R"(","channels":true})");
  ASSERT_TRUE(t.error_code.empty()) << t.raw;
  simdjson::dom::parser p2;
  simdjson::dom::element ch = p2.parse(t.result).value()["channels"].value();
  ASSERT_TRUE(ch.is_object()) << t.raw;
  EXPECT_EQ(ch["axis"].get_int64().value(), 3);
  EXPECT_EQ(ch["count"].get_uint64().value(), 8u);
  EXPECT_EQ(ch["per_channel"].get_array().value().size(), 8u);

  // The same evidence as computed offline from the two files.
  auto s = dump_file::open(daemon_->sample());
  auto b = dump_file::open(daemon_->bench());
  ASSERT_TRUE(s && b);
  auto sv = s->view(2);
  auto bv = b->view(2);
  ASSERT_TRUE(sv && bv);
  auto ev = compute_channel_evidence(*sv, *bv, layout_choice::same);
  ASSERT_TRUE(ev.has_value());
  simdjson::dom::parser p3;
  EXPECT_EQ(simdjson::minify(ch), simdjson::minify(p3.parse(channels_json(*ev)).value()));

  // A layer that is not part of the pair's comparison: null.
  auto none = c.call("tensor", R"({"path":")" + daemon_->bench() + R"(","name":")" + bad +
                                   R"(","channels":true})");
  ASSERT_TRUE(none.error_code.empty()) << none.raw;
  simdjson::dom::parser p4;
  EXPECT_TRUE(p4.parse(none.result).value()["channels"].is_null()) << none.raw;
}

TEST_F(IpcMethods, CompareByPathAndByRun) {
  write_layers(5);
  raw_client c(daemon_->socket());
  auto by_path = c.call("compare", R"({"sample":")" + daemon_->sample() + R"(","benchmark":")" +
                                       daemon_->bench() + "\"}");
  ASSERT_TRUE(by_path.error_code.empty()) << by_path.raw;
  simdjson::dom::parser p;
  simdjson::dom::element r = p.parse(by_path.result).value();
  EXPECT_EQ(r["layers"].get_array().value().size(), 5u);

  // A run id names its file's current contents: same answer.
  auto runs = c.call("runs", R"({"path":")" + daemon_->sample() + "\"}");
  simdjson::dom::parser p2;
  const std::string run(p2.parse(runs.result).value()["runs"].at(0)["run"].get_string().value());
  auto by_run = c.call("compare", R"({"sample":")" + run + R"(","benchmark":")" + daemon_->bench() +
                                      R"(","cos_min":0.5})");
  ASSERT_TRUE(by_run.error_code.empty()) << by_run.raw;
  EXPECT_NE(by_run.result.find("\"layers\""), std::string::npos);

  EXPECT_EQ(c.call("compare", R"({"sample":"/nonexistent/a.bin","benchmark":"/b"})").error_code,
            "not_found");
  EXPECT_EQ(c.call("compare", R"({"sample":"x"})").error_code, "invalid_params");
  // Requests after a deferred one are answered in order.
  c.send_line(R"({"id":"a","method":"compare","params":{"sample":")" + daemon_->sample() +
              R"(","benchmark":")" + daemon_->bench() + "\"}}");
  c.send_line(R"({"id":"b","method":"hello"})");
  auto first = c.read_message();
  auto second = c.read_message();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->id, "\"a\"");
  EXPECT_EQ(second->id, "\"b\"");
}

TEST_F(IpcMethods, SubscribeAndUnsubscribe) {
  raw_client c(daemon_->socket());
  auto s = c.call("subscribe", R"({"pair":"p"})");
  EXPECT_TRUE(s.fresh_instance) << s.raw;
  // The same id twice on one connection would make events ambiguous.
  c.send_line(R"({"id":1,"method":"subscribe"})");
  auto dup = c.read_message();
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->error_code, "invalid_params") << dup->raw;
  pair_writer w(daemon_->sample(), daemon_->bench(), 3);
  w.write(3);
  std::vector<message> others;
  auto layers = read_layers(c, 3, &others);
  ASSERT_EQ(layers.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(layers[static_cast<std::size_t>(i)].index, i);
    EXPECT_EQ(layers[static_cast<std::size_t>(i)].id, "1");
  }
  auto u = c.call("unsubscribe", R"({"subscription":1})");
  EXPECT_EQ(u.result, "{}") << u.raw;
  EXPECT_EQ(c.call("unsubscribe", R"({"subscription":1})").error_code, "not_found");
  EXPECT_EQ(c.call("unsubscribe", "{}").error_code, "invalid_params");
  EXPECT_EQ(c.call("subscribe", R"({"since":"yesterday"})").error_code, "invalid_params");
  EXPECT_EQ(c.call("subscribe", R"({"suspect_only":"yes"})").error_code, "invalid_params");
}

}  // namespace
}  // namespace sigdump::testing
