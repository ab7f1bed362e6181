#include "http/target.h"

#include "core/hex.h"

namespace puff::http {

SplitTarget split_target(std::string_view target) {
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (target.empty() || (target.front() != '/' && target != "*")) {
    // absolute-form: scheme "://" authority path
    if (auto scheme_end = target.find("://"); scheme_end != std::string_view::npos) {
      std::string_view rest = target.substr(scheme_end + 3);
      auto path_start = rest.find_first_of("/?");
      target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    }
  }
  SplitTarget out;
  auto question = target.find('?');
  out.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) out.query = std::string(target.substr(question + 1));
  if (out.path.empty()) out.path = "/";
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = core::hex_digit_value(text[i + 1]);
      int low = core::hex_digit_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace puff::http
