#include "config/config_locations.h"

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdlib>

namespace sigdump::daemon {

namespace {

// Nesting deeper than this is refused: configuration files are shallow, and
// the scanner recurses.
constexpr int max_depth = 256;

std::string show_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char hex[] = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

}  // namespace

// Recursive descent over the JSON grammar, recording the position of every
// value under the path config errors use, and stopping at the first error.
class json_scanner {
 public:
  json_scanner(std::string_view text, config_locations& out) : s_(text), out_(out) {}

  void run() {
    skip_space();
    if (i_ >= s_.size()) {
      fail(here(), "empty file (expected a JSON object)");
      return;
    }
    if (!value("", here(), 0)) return;
    skip_space();
    if (i_ < s_.size()) {
      fail(here(), "unexpected " + show_char(s_[i_]) + " after the top-level value");
    }
  }

 private:
  std::string_view s_;
  config_locations& out_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1;
  std::size_t line_start_ = 0;

  text_position here() const { return {line_, static_cast<std::uint32_t>(i_ - line_start_ + 1)}; }

  bool fail(text_position at, std::string message) {
    if (!out_.error_) out_.error_ = json_syntax_error{at, std::move(message)};
    return false;
  }

  void advance() {
    if (s_[i_] == '\n') {
      ++line_;
      line_start_ = i_ + 1;
    }
    ++i_;
  }

  void skip_space() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      advance();
    }
  }

  bool unexpected(const char* expected) {
    if (i_ >= s_.size())
      return fail(here(), std::string("unexpected end of file, expected ") + expected);
    std::string what = show_char(s_[i_]);
    if (s_[i_] == '/') what += " (JSON has no comments)";
    if (s_[i_] == '\'') what += " (JSON strings use double quotes)";
    return fail(here(), "expected " + std::string(expected) + ", found " + what);
  }

  void record(const std::string& path, text_position key, text_position value) {
    out_.paths_.try_emplace(path, config_locations::entry{key, value});
  }

  bool value(const std::string& path, text_position key, int depth) {
    if (depth > max_depth) return fail(here(), "nesting deeper than " + std::to_string(max_depth));
    if (i_ >= s_.size()) return unexpected("a value");
    const text_position at = here();
    record(path, key, at);
    switch (s_[i_]) {
      case '{': return object(path, depth);
      case '[': return array(path, depth);
      case '"': return string(nullptr);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return number();
        return unexpected("a value");
    }
  }

  bool object(const std::string& path, int depth) {
    const text_position open = here();
    advance();  // '{'
    skip_space();
    if (i_ < s_.size() && s_[i_] == '}') {
      advance();
      return true;
    }
    while (true) {
      if (i_ >= s_.size()) {
        return fail(here(), "unexpected end of file: '{' opened at " + std::to_string(open.line) +
                                ":" + std::to_string(open.column) + " is never closed");
      }
      if (s_[i_] != '"') return unexpected("a key in double quotes");
      const text_position key_at = here();
      std::string key;
      if (!string(&key)) return false;
      skip_space();
      if (i_ >= s_.size() || s_[i_] != ':') {
        std::string what = "':' after the key \"" + key + "\"";
        return unexpected(what.c_str());
      }
      advance();
      skip_space();
      const std::string child = path.empty() ? key : path + "." + key;
      if (!value(child, key_at, depth + 1)) return false;
      skip_space();
      if (i_ >= s_.size()) {
        return fail(here(), "unexpected end of file: '{' opened at " + std::to_string(open.line) +
                                ":" + std::to_string(open.column) + " is never closed");
      }
      if (s_[i_] == '}') {
        advance();
        return true;
      }
      if (s_[i_] != ',') {
        std::string what = "',' or '}' after the value of \"" + key + "\"";
        return unexpected(what.c_str());
      }
      const text_position comma = here();
      advance();
      skip_space();
      if (i_ < s_.size() && s_[i_] == '}') return fail(comma, "trailing comma before '}'");
    }
  }

  bool array(const std::string& path, int depth) {
    const text_position open = here();
    advance();  // '['
    skip_space();
    if (i_ < s_.size() && s_[i_] == ']') {
      advance();
      return true;
    }
    for (std::size_t n = 0;; ++n) {
      if (i_ >= s_.size()) {
        return fail(here(), "unexpected end of file: '[' opened at " + std::to_string(open.line) +
                                ":" + std::to_string(open.column) + " is never closed");
      }
      const std::string child = path + "[" + std::to_string(n) + "]";
      if (!value(child, here(), depth + 1)) return false;
      skip_space();
      if (i_ >= s_.size()) {
        return fail(here(), "unexpected end of file: '[' opened at " + std::to_string(open.line) +
                                ":" + std::to_string(open.column) + " is never closed");
      }
      if (s_[i_] == ']') {
        advance();
        return true;
      }
      if (s_[i_] != ',') return unexpected("',' or ']' after an array element");
      const text_position comma = here();
      advance();
      skip_space();
      if (i_ < s_.size() && s_[i_] == ']') return fail(comma, "trailing comma before ']'");
    }
  }

  // A string starting at '"'; its raw text (escapes kept) goes to *raw.
  bool string(std::string* raw) {
    const text_position open = here();
    advance();  // '"'
    const std::size_t begin = i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        if (raw != nullptr) raw->assign(s_.substr(begin, i_ - begin));
        advance();
        return true;
      }
      if (c == '\n') return fail(open, "unterminated string: no closing '\"' on its line");
      if (c < 0x20) return fail(here(), "control character " + show_char(s_[i_]) + " in a string");
      if (c == '\\') {
        const text_position esc = here();
        advance();
        if (i_ >= s_.size()) break;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            advance();
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) {
              return fail(esc, "invalid \\u escape (expected 4 hex digits)");
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return fail(esc, "invalid escape '\\" + std::string(1, e) + "' in a string");
        }
        advance();
        continue;
      }
      if (c >= 0x80) {
        // UTF-8: a lead byte and its continuation bytes.
        int more = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
        if (more < 0) return fail(here(), "invalid UTF-8 in a string");
        const text_position lead = here();
        for (int k = 0; k < more; ++k) {
          advance();
          if (i_ >= s_.size() || (static_cast<unsigned char>(s_[i_]) & 0xc0) != 0x80) {
            return fail(lead, "invalid UTF-8 in a string");
          }
        }
      }
      advance();
    }
    return fail(open, "unterminated string: the file ends before its closing '\"'");
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word ||
        (i_ + word.size() < s_.size() &&
         std::isalnum(static_cast<unsigned char>(s_[i_ + word.size()])))) {
      return fail(here(), "invalid literal (expected true, false or null)");
    }
    for (std::size_t k = 0; k < word.size(); ++k) advance();
    return true;
  }

  bool number() {
    const text_position at = here();
    const std::size_t begin = i_;
    auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    auto bad = [&] { return fail(at, "invalid number"); };
    if (s_[i_] == '-') advance();
    if (!digit()) return bad();
    if (s_[i_] == '0') {
      advance();
      if (digit()) return fail(at, "invalid number (no leading zeros)");
    } else {
      while (digit()) advance();
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      advance();
      if (!digit()) return bad();
      while (digit()) advance();
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      advance();
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) advance();
      if (!digit()) return bad();
      while (digit()) advance();
    }
    if (i_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
      return bad();
    }
    if (!out_.huge_number_.known()) {
      const std::string token(s_.substr(begin, i_ - begin));
      if (std::isinf(std::strtod(token.c_str(), nullptr))) out_.huge_number_ = at;
    }
    return true;
  }
};

config_locations config_locations::scan(std::string_view text) {
  config_locations out;
  json_scanner(text, out).run();
  return out;
}

text_position config_locations::find(std::string_view path, bool key) const {
  std::string p(path);
  while (true) {
    auto it = paths_.find(p);
    if (it != paths_.end()) return key ? it->second.key : it->second.value;
    if (p.empty()) return {};
    // Drop the last ".name" or "[i]" and look at the enclosing value.
    const std::size_t cut = p.find_last_of(".[");
    p.resize(cut == std::string::npos ? 0 : cut);
    key = false;
  }
}

std::string with_position(const std::string& file, text_position at) {
  if (!at.known()) return file;
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

}  // namespace sigdump::daemon
