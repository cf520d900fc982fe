#include "sigdump/json_util.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>

namespace sigdump {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  json_append_string(out, s);
  return out;
}

TEST(JsonUtil, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quoted("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(quoted(std::string_view("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(quoted(std::string_view("\0", 1)), R"("\u0000")");
}

TEST(JsonUtil, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(quoted("conv/\xE5\x8D\xB7\xE7\xA7\xAF"), "\"conv/\xE5\x8D\xB7\xE7\xA7\xAF\"");
  EXPECT_EQ(quoted("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
  // Lone continuation byte, truncated sequence, overlong '/', surrogate, past U+10FFFF.
  for (std::string_view bad :
       {"\x80", "\xE5\x8D", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    std::string out = quoted(bad);
    EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos) << out;
    simdjson::dom::parser p;
    EXPECT_FALSE(p.parse(out).error()) << "not valid JSON: " << out;
  }
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9", 0), 2u);
  EXPECT_EQ(utf8_sequence_length("\xC3", 0), 0u);
}

TEST(JsonUtil, NonFiniteNumbersBecomeNullAndDoublesRoundTrip) {
  std::string out;
  json_append_number(out, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(out, "null");
  out.clear();
  json_append_number(out, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "null");
  out.clear();
  json_append_number(out, 0.1 + 0.2);
  EXPECT_EQ(std::stod(out), 0.1 + 0.2);
  out.clear();
  json_append_number(out, std::int64_t{-9007199254740993});
  EXPECT_EQ(out, "-9007199254740993");
}

TEST(JsonUtil, WriterPlacesCommasInNestedContainers) {
  json_writer w;
  w.begin_object();
  w.field("a", 1).key("b").begin_array().value(true).null().value("x").end_array();
  w.key("c").begin_object().end_object();
  w.field("d", std::string("y"));
  w.end_object();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[true,null,"x"],"c":{},"d":"y"})");
  simdjson::dom::parser p;
  EXPECT_FALSE(p.parse(w.str()).error());
}

}  // namespace
}  // namespace sigdump
