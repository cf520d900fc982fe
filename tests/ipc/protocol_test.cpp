#include "sigdump/ipc/protocol.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "sigdump/ipc/clock.h"

namespace sigdump::ipc {
namespace {

bad_request parse_bad(std::string_view line) {
  request_parser p;
  auto r = p.parse(line);
  EXPECT_FALSE(r.has_value()) << line;
  return r ? bad_request{} : r.error();
}

TEST(RequestParser, ParsesFullRequest) {
  request_parser p;
  auto r = p.parse(R"({"id":1,"method":"hello","params":{"client":"vim","protocol":1}})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, "1");
  EXPECT_EQ(r->method, "hello");
  EXPECT_EQ(r->params, R"({"client":"vim","protocol":1})");
}

TEST(RequestParser, StringIdAndMissingParams) {
  request_parser p;
  auto r = p.parse(R"( {"method":"status","id":"a\"b"} )");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, R"("a\"b")");
  EXPECT_EQ(r->params, "{}");
}

TEST(RequestParser, MissingIdIsNull) {
  request_parser p;
  auto r = p.parse(R"({"method":"status","params":null})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, "null");
  EXPECT_EQ(r->params, "{}");
}

TEST(RequestParser, ReusableAcrossLines) {
  request_parser p;
  for (int i = 0; i < 100; ++i) {
    auto r = p.parse(R"({"id":)" + std::to_string(i) + R"(,"method":"m"})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->id, std::to_string(i));
  }
}

TEST(RequestParser, RejectsEveryMalformedForm) {
  EXPECT_EQ(parse_bad("not json").error.code, error_code::parse_error);
  EXPECT_EQ(parse_bad("{\"id\":1,").error.code, error_code::parse_error);
  EXPECT_EQ(parse_bad("{\"id\":1}}").error.code, error_code::parse_error);
  EXPECT_EQ(parse_bad("\"\xff\xfe\"").error.code, error_code::parse_error);
  EXPECT_EQ(parse_bad("[1,2]").error.code, error_code::invalid_request);
  EXPECT_EQ(parse_bad("42").error.code, error_code::invalid_request);
  EXPECT_EQ(parse_bad("null").error.code, error_code::invalid_request);
  EXPECT_EQ(parse_bad(R"({"id":1})").error.code, error_code::invalid_request);
  auto no_method = parse_bad(R"({"id":7,"params":{}})");
  EXPECT_EQ(no_method.id, "7");  // the id is echoed when it could be read
  EXPECT_EQ(parse_bad(R"({"id":1,"method":5})").error.code, error_code::invalid_request);
  EXPECT_EQ(parse_bad(R"({"id":1,"method":null})").error.code, error_code::invalid_request);
  EXPECT_EQ(parse_bad(R"({"id":1,"method":"m","params":[1]})").error.code,
            error_code::invalid_request);
  EXPECT_EQ(parse_bad(R"({"id":1,"method":"m","params":"x"})").error.code,
            error_code::invalid_request);
  auto obj_id = parse_bad(R"({"id":{"a":1},"method":"m"})");
  EXPECT_EQ(obj_id.error.code, error_code::invalid_request);
  EXPECT_EQ(obj_id.id, "null");
  EXPECT_EQ(parse_bad(R"({"id":true,"method":"m"})").error.code, error_code::invalid_request);
  std::string huge = R"({"id":1,"method":")" + std::string(max_line_bytes, 'x') + "\"}";
  EXPECT_EQ(parse_bad(huge).error.code, error_code::line_too_long);
}

TEST(ParamsReader, TypedAccessAndErrors) {
  params_reader p(
      R"({"s":"x","i":-3,"u":5,"d":1.5,"b":true,"n":null,"r":[2,9],"badr":[3,1],"id":"q"})");
  EXPECT_EQ(p.get_string("s").value(), "x");
  EXPECT_FALSE(p.get_string("missing").value().has_value());
  EXPECT_FALSE(p.get_string("n").value().has_value());
  EXPECT_EQ(p.get_int("i").value(), -3);
  EXPECT_EQ(p.get_double("u").value(), 5.0);
  EXPECT_EQ(p.get_double("d").value(), 1.5);
  EXPECT_EQ(p.get_bool("b").value(), true);
  EXPECT_EQ(p.get_range("r").value(), (std::pair<std::int64_t, std::int64_t>{2, 9}));
  EXPECT_EQ(p.get_id("id").value(), "\"q\"");
  EXPECT_TRUE(p.has("s"));
  EXPECT_FALSE(p.has("n"));

  auto wrong = p.get_int("s");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, error_code::invalid_params);
  EXPECT_NE(wrong.error().message.find("params.s"), std::string::npos);
  EXPECT_FALSE(p.get_int("d").has_value());
  EXPECT_FALSE(p.get_int("u", 0, 4).has_value());
  EXPECT_FALSE(p.get_bool("i").has_value());
  EXPECT_FALSE(p.get_string("b").has_value());
  EXPECT_FALSE(p.get_range("badr").has_value());
  EXPECT_FALSE(p.get_range("s").has_value());
  EXPECT_FALSE(p.get_id("b").has_value());
}

TEST(ReplyLines, AreValidJsonWithNewline) {
  simdjson::dom::parser parser;
  const std::string r = result_line("\"a\"", R"({"x":1})");
  ASSERT_EQ(r.back(), '\n');
  simdjson::dom::element e;
  ASSERT_FALSE(parser.parse(r).get(e));
  EXPECT_EQ(std::string_view(e["id"].get_string().value()), "a");
  EXPECT_EQ(e["result"]["x"].get_int64().value(), 1);

  const std::string err = error_line("3", error_code::not_found, "no \"x\"\n");
  ASSERT_FALSE(parser.parse(err).get(e));
  EXPECT_EQ(std::string_view(e["error"]["code"].get_string().value()), "not_found");
  EXPECT_EQ(std::string_view(e["error"]["message"].get_string().value()), "no \"x\"\n");
  EXPECT_EQ(err.find('\n'), err.size() - 1);  // one line, whatever the message holds

  const std::string ev = event_line("5", R"({"event":"gap","dropped":3})");
  ASSERT_FALSE(parser.parse(ev).get(e));
  EXPECT_EQ(e["id"].get_int64().value(), 5);
  EXPECT_EQ(std::string_view(e["event"].get_string().value()), "gap");
  EXPECT_EQ(event_line("5", "{}"), "{\"id\":5}\n");
}

TEST(ErrorCodes, HaveWireNames) {
  EXPECT_STREQ(error_code_name(error_code::parse_error), "parse_error");
  EXPECT_STREQ(error_code_name(error_code::line_too_long), "line_too_long");
  EXPECT_STREQ(error_code_name(error_code::forbidden), "forbidden");
  EXPECT_STREQ(error_code_name(error_code::overloaded), "overloaded");
}

TEST(Clock, FormatsAndParsesRoundTrip) {
  event_clock c{1764183000, 4242, 118};
  EXPECT_EQ(format_clock(c), "c:1764183000:4242:118");
  auto p = parse_clock("c:1764183000:4242:118");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, c);
  EXPECT_TRUE(p->same_instance(event_clock{1764183000, 4242, 7}));
  EXPECT_FALSE(p->same_instance(event_clock{1764183000, 4243, 118}));
  auto big = parse_clock("c:0:1:18446744073709551615");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->tick, 18446744073709551615ull);
}

TEST(Clock, RejectsMalformed) {
  for (const char* s :
       {"", "c:", "c:1:2", "c:1:2:", "c:1:2:3:4", "x:1:2:3", "c:-1:2:3", "c:1:2:-3", "c:1:2:3 ",
        " c:1:2:3", "c:a:2:3", "c:1::3", "c:1:2:18446744073709551616", "C:1:2:3", "c:+1:2:3"}) {
    EXPECT_FALSE(parse_clock(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace sigdump::ipc

namespace sigdump::ipc {
namespace {

TEST(ReplyLines, PrettyResultBecomesOneLine) {
  const std::string r = result_line("1", "{\n  \"a\": \"x\\ny\"\n}\n");
  EXPECT_EQ(r.find('\n'), r.size() - 1);
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_FALSE(parser.parse(r).get(e));
  EXPECT_EQ(std::string_view(e["result"]["a"].get_string().value()), "x\ny");
}

}  // namespace
}  // namespace sigdump::ipc
